"""Compaction of closed months: a subject's daily files of a month become one file.

    lake/<dataset>/subject=<s>/date=<YYYY-MM-DD>/part-0.parquet  (x up to 31)
        -> lake/<dataset>/subject=<s>/month=<YYYY-MM>/part-0.parquet   (rows keep their day in `date`)

Only datasets the contract marks `compactable`. Per subject-month, with the dataset's write lock held
exclusively (writers of that dataset wait): write the month file (temp + rename), record its days in the
manifest in one log file (they switch together), then delete the daily files. A later write of one day
of a compacted month takes that day out of the month file first (store.py), so no row is ever in two
files. Run it with no dbt build running (the CLI holds the warehouse build lock), so a build never reads
the moment between the month file and the deletion of the daily files. Re-running after a crash is safe:
daily files already compacted are folded in again and removed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow as pa

from . import contract, storage
from .store import Lake, LakeFile, lake_files, month_entries, prune_empty, write_table


@dataclass
class CompactionReport:
    months: int = 0  # subject-months written
    files_removed: int = 0  # daily files folded into them
    datasets: dict[str, int] = field(default_factory=dict)


def compact_lake(lake: Lake, before: str, datasets: Iterable[str] | None = None) -> CompactionReport:
    """Compact every subject-month strictly before `before` (YYYY-MM) of the compactable datasets."""
    if len(before) != 7 or before[4] != "-" or not (before[:4] + before[5:]).isdigit():
        raise ValueError(f"--before {before!r}: expected YYYY-MM")
    names = [d for d in (datasets or contract.DATASETS) if contract.dataset(d).compactable]
    report = CompactionReport()
    present = {p.name for p in storage.list_folders(lake.root)}
    for name, files in lake_files(lake.root, [n for n in names if n in present]).items():
        groups: dict[tuple[str, str], list[LakeFile]] = {}
        for f in files:
            if f.date is not None and f.date.strftime("%Y-%m") < before:
                groups.setdefault((f.subject, f.date.strftime("%Y-%m")), []).append(f)
        for (subject, month), daily in sorted(groups.items()):
            with lake.writing(name, exclusive=True):
                _compact_month(lake, name, subject, month, daily)
            report.months += 1
            report.files_removed += len(daily)
            report.datasets[name] = report.datasets.get(name, 0) + 1
    lake.manifest.checkpoint()
    return report


def _compact_month(lake: Lake, dataset: str, subject: str, month: str, daily: list[LakeFile]) -> None:
    target = lake.month_file(dataset, subject, month)
    days = {f.date for f in daily}
    parts = []
    if target.exists():  # a month compacted before: keep the days not re-written since
        old = storage.read_table(target)
        keep = [d not in days for d in old.column("date").to_pylist()]
        parts.append(old.filter(pa.array(keep)))
    for f in sorted(daily, key=lambda f: f.date):
        table = storage.read_table(f.path).replace_schema_metadata(None)
        day = pa.array([f.date] * table.num_rows, pa.date32())
        if "date" in table.column_names:  # a column of the dataset named like the hive key holds the same day
            table = table.set_column(table.column_names.index("date"), "date", day)
        else:
            table = table.append_column("date", day)
        parts.append(table)
    merged = pa.concat_tables([p for p in parts if p.num_rows] or parts[:1], promote_options="permissive")
    merged = merged.sort_by([("date", "ascending")])
    storage.ensure_folder(target.parent)
    write_table(merged, target, signal=contract.dataset(dataset).signal)
    lake.manifest.record(month_entries(lake.manifest, dataset, subject, target, merged))
    storage.remove_many([f.path for f in daily])
    for f in daily:
        prune_empty(f.path.parent, stop=lake.root)
