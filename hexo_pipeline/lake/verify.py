"""Checks that the lake and its manifest agree (docs/lake.md, Checks).

`verify_lake` reports, one line each:
- `missing_file`: the manifest names a file that is not on disk (deleted by hand, or lost);
- `unrecorded_file`: a data file the manifest does not know (a writer crashed between the file and its
  entry, or someone copied a file in): dbt's globs would read rows nobody accounted for;
- `changed_file`: a file whose size differs from its manifest entry (replaced outside the lake writer);
- `unreadable_file`: a file whose Parquet footer cannot be read (half-written, truncated, not Parquet).

Cost: one directory listing of the lake plus the manifest, no file opened, except the footers of files
that are unrecorded, changed, or recorded after `since` (every file with `deep=True`). Used by
`hexo-pipeline marts` before a build (refuses to publish) and by a Dagster asset check.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from . import storage
from .manifest import Manifest, stats_max
from .store import Lake, lake_file_sizes, lake_files, month_entries


@dataclass(frozen=True)
class Problem:
    kind: str  # missing_file | unrecorded_file | changed_file | unreadable_file
    dataset: str
    path: Path
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.path}: {self.detail}"


def verify_lake(
    lake: Lake, *, since: datetime | None = None, deep: bool = False, datasets: Iterable[str] | None = None
) -> list[Problem]:
    """Every disagreement between the lake's files and its manifest (empty list: all good), for the
    datasets given (default: every dataset of the lake)."""
    problems: list[Problem] = []
    wanted = None if datasets is None else set(datasets)
    on_disk = lake_file_sizes(lake.root, None if wanted is None else _present(lake, wanted))
    known = set(on_disk) | set(lake.manifest.datasets())
    names = sorted(known if wanted is None else known & wanted)
    recorded_files = lake.manifest.files_of(names)
    for name in names:
        files = recorded_files[name]
        recorded: dict[str, tuple[int, datetime | None, str]] = {
            file: (size, written, f"{subject or '-'} {day or '-'}")
            for file, size, written, subject, day in zip(
                *(files.column(c).to_pylist() for c in ("file", "bytes", "written_at", "subject", "date"))
            )
        }
        seen = set()
        for rel, actual in on_disk.get(name, []):
            seen.add(rel)
            entry = recorded.get(rel)
            if entry is None:
                path = lake.root / rel
                problems.append(
                    _footer_problem(name, path)
                    or Problem(
                        "unrecorded_file",
                        name,
                        path,
                        "not in the lake manifest (a write that did not finish, or a "
                        "file copied in by hand); re-ingest its partition or run `hexo-pipeline lake manifest --rebuild`",
                    )
                )
                continue
            size, written, _ = entry
            if actual != size:
                path = lake.root / rel
                problems.append(
                    _footer_problem(name, path)
                    or Problem("changed_file", name, path, f"{actual} bytes, the manifest recorded {size}")
                )
            elif deep or (since is not None and written is not None and written > since):
                problem = _footer_problem(name, lake.root / rel)
                if problem:
                    problems.append(problem)
        for rel, (_, _, where) in recorded.items():
            if rel not in seen:
                problems.append(
                    Problem(
                        "missing_file",
                        name,
                        lake.root / rel,
                        f"the manifest says it holds {name} {where}, but it is not on disk",
                    )
                )
    return problems


def _present(lake: Lake, wanted: set[str]) -> list[str]:
    """The wanted datasets that have a folder (remote: one listing of the lake's top level)."""
    if lake.is_remote:
        return sorted(wanted & {p.name for p in storage.list_folders(lake.root)})
    return sorted(n for n in wanted if (lake.root / n).is_dir())


def _footer_problem(dataset: str, path: Path) -> Problem | None:
    try:
        storage.read_metadata(path)
    except Exception as exc:  # noqa: BLE001 - any failure to read the footer is the finding
        return Problem("unreadable_file", dataset, path, f"not a readable Parquet file ({type(exc).__name__}: {exc})")
    return None


def rebuild_manifest(manifest: Manifest, dataset_names: Iterable[str] | None = None) -> int:
    """Record every file the lake holds (a lake written before the manifest existed). Returns entries."""
    count = 0
    for name, files in lake_files(manifest.lake_root, dataset_names).items():
        entries = []
        for f in files:
            if f.month is not None:
                entries += month_entries(manifest, name, f.subject, f.path, storage.read_table(f.path))
                continue
            meta = storage.read_metadata(f.path)
            entries.append(
                manifest.entry_for_file(
                    name, f.subject, f.date, f.path, rows=meta.num_rows, received_at=stats_max(meta, "received_at")
                )
            )
        manifest.record(entries)
        count += len(entries)
    manifest.checkpoint()
    return count
