"""A study-scale lake of summaries, fast: N subjects x D days without synthesizing raw signals for every day.

The warehouse reads only the summary datasets and the small tables (records, ranges, metrics, study side),
so that is all this writes. One template day comes from `write_synthetic_lake` (real 1 Hz signals through
the real summary code), then is tiled over subjects and days with numpy: timestamps and dates shifted,
ids renumbered. Closed months are written as the compactor writes them (one file per subject-month,
docs/lake.md), with their manifest entries, so the layout is the one a two-year study has after
`hexo-pipeline lake compact`. Deterministic for given arguments.

No raw signal files: fct_subject_day_completeness takes a day's summaries as evidence that its signals step
ran (ingestion writes them from the signals, after committing them), so the scale lake has no signal gaps.

Time zone: UTC, so a shift by whole days keeps every row in the same local hour and day.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from hexo_pipeline.lake import Lake, contract
from hexo_pipeline.lake.manifest import Manifest
from hexo_pipeline.lake.store import month_entries
from hexo_pipeline.warehouse.synthetic import write_synthetic_lake

DAY_US = 86_400_000_000
DAY_NS = DAY_US * 1000
TEMPLATE_SUBJECTS = 4  # subject 1 sleeps in the shirt (night records), subject 4 wears an Astroskin
WEAR_MINUTES = 600
STUDY_UUID = "5ca1e000"
# Tables tiled per subject-day (everything dbt reads per subject-day; raw signals are not read by dbt).
TILED = ("records", "ranges", "range_metrics", "calendar_events", "survey_responses")
ID_COLUMNS = ("record_id", "range_id", "parent_id", "event_id", "response_id")


@dataclass(frozen=True)
class ScaleSpec:
    subjects: int
    days: int
    start: date = date(2025, 1, 6)
    missing_rate: float = 0.1  # share of subject-days without data (not worn)

    @property
    def end(self) -> date:
        return self.start + timedelta(days=self.days)

    def username(self, i: int) -> str:
        return f"{STUDY_UUID}_s{i + 1:04d}"

    def user_id(self, i: int) -> int:
        return 10_000 + i


def tiled_datasets() -> list[str]:
    """The subject-day datasets the scale lake holds: the small tables and every summary dataset."""
    summaries = [d.name for d in contract.DATASETS.values() if d.compactable and d.name not in TILED]
    return list(TILED) + sorted(summaries)


def _template(workdir: Path, start: date) -> dict[str, dict[int, pa.Table]]:
    """The template day (the second of a 3-day synthetic lake: a night before, a day record, a night
    starting) per dataset and template subject, with ids made relative (see `_relative_ids`)."""
    synth = write_synthetic_lake(
        workdir,
        subjects=TEMPLATE_SUBJECTS,
        days=3,
        start=start - timedelta(days=1),
        tz="UTC",
        minutes=WEAR_MINUTES,
        study_uuid=STUDY_UUID,
        seed=5,
    )
    lake = Lake(Path(workdir) / "lake")
    order = {rec.record_id: rec for rec in synth.records}
    out: dict[str, dict[int, pa.Table]] = {}
    for name in tiled_datasets():
        out[name] = {}
        for t in range(TEMPLATE_SUBJECTS):
            # Template subject t's day: day 1 of the synthetic lake, or day 0 when subject t has none on day 1.
            username = f"{STUDY_UUID}_syn{t + 1:03d}"
            for day in (start, start - timedelta(days=1)):
                table = lake.read_partition(name, username, day)
                if lake.read_partition("records", username, day) is not None:
                    break
            if table is not None and table.num_rows:
                out[name][t] = _relative_ids(table, day, start, order)
    return out


def _relative_ids(table: pa.Table, day: date, start: date, records: dict) -> pa.Table:
    """Ids become (day offset, slot) codes, renumbered per subject and day when tiling: a record is a
    morning (slot 0) or a night (slot 1) of the template day or of the day before it."""
    shift = (start - day).days
    cols = {}
    for name in table.column_names:
        col = table.column(name)
        if name in ("record_id", "range_id", "parent_id"):
            factor = 10 if name != "record_id" else 1
            ids = col.to_numpy(zero_copy_only=False)
            codes = np.full(len(ids), -1, dtype=np.int64)
            for i, value in enumerate(ids):  # a handful of distinct ids per template day
                if value is None or (isinstance(value, float) and np.isnan(value)):
                    continue
                rec = records[int(value) // factor]
                rec_day = rec.start.date() + timedelta(days=shift)
                codes[i] = ((rec_day - start).days + 1) * 2 + (1 if rec.sleep else 0)
            cols[name] = pa.array(np.where(codes >= 0, codes, 0), pa.int64(), mask=codes < 0)
        elif name in ("event_id", "response_id"):
            cols[name] = pa.array(col.to_numpy(zero_copy_only=False) % 10, pa.int64())
        else:
            cols[name] = _shift(col, shift)
    return pa.table(cols)


def _shift(col: pa.ChunkedArray, days: int) -> pa.ChunkedArray:
    """Timestamps and dates moved by whole days (received_at stays: it is when the pipeline fetched)."""
    if days == 0:
        return col
    if pa.types.is_timestamp(col.type):
        per_day = {"s": 86_400, "ms": 86_400_000, "us": DAY_US, "ns": DAY_NS}[col.type.unit]
        return pa.chunked_array([pa.compute.add(col.cast(pa.int64()), days * per_day).cast(col.type)])
    if pa.types.is_date32(col.type):
        return pa.chunked_array([pa.compute.add(col.cast(pa.int32()), days).cast(pa.date32())])
    return col


def _tile(
    template: pa.Table, offsets: np.ndarray, subject_index: int, spec: ScaleSpec, received_at: datetime
) -> pa.Table:
    """The template repeated once per day offset (days since the study start), ids made absolute."""
    n, k = template.num_rows, len(offsets)
    day_of_row = np.repeat(offsets, n)
    cols = {}
    for name in template.column_names:
        col = template.column(name).combine_chunks()
        if name == "received_at":
            cols[name] = pa.array(np.full(n * k, np.datetime64(received_at.replace(tzinfo=None), "us")), col.type)
        elif name in ("record_id", "range_id", "parent_id"):
            codes = np.tile(col.fill_null(0).to_numpy(), k)
            valid = np.tile(col.is_valid().to_numpy(zero_copy_only=False), k)
            record = (subject_index * (spec.days + 3) + day_of_row + codes // 2) * 2 + codes % 2
            value = 1_000_000 + record if name == "record_id" else (1_000_000 + record) * 10
            cols[name] = pa.array(value, pa.int64(), mask=~valid)
        elif name in ("event_id", "response_id"):
            cols[name] = pa.array(
                (subject_index * (spec.days + 3) + day_of_row) * 10 + np.tile(col.to_numpy(), k), pa.int64()
            )
        elif name == "user_id":
            cols[name] = pa.array(np.full(n * k, spec.user_id(subject_index)), pa.int64())
        elif pa.types.is_timestamp(col.type):
            per_day = {"s": 86_400, "ms": 86_400_000, "us": DAY_US, "ns": DAY_NS}[col.type.unit]
            base = np.tile(col.cast(pa.int64()).fill_null(0).to_numpy(), k)
            valid = np.tile(col.is_valid().to_numpy(zero_copy_only=False), k)
            cols[name] = pa.array(base + day_of_row * per_day, pa.int64(), mask=~valid).cast(col.type)
        elif pa.types.is_date32(col.type):
            base = np.tile(col.cast(pa.int32()).fill_null(0).to_numpy(), k)
            valid = np.tile(col.is_valid().to_numpy(zero_copy_only=False), k)
            cols[name] = pa.array(base + day_of_row, pa.int32(), mask=~valid).cast(pa.date32())
        else:
            cols[name] = pa.chunked_array([col] * k).combine_chunks() if k else col.slice(0, 0)
    table = pa.table(cols)
    if "date" in table.column_names:  # the dataset's own day column (calendar events, survey responses)
        return table
    dates = pa.array(
        (np.datetime64(spec.start) + day_of_row.astype("timedelta64[D]")).astype("datetime64[D]"), pa.date32()
    )
    return table.append_column("date", dates)


def _worn(spec: ScaleSpec, subject_index: int) -> np.ndarray:
    """Day offsets with data for one subject (deterministic)."""
    rng = np.random.default_rng(subject_index)
    return np.flatnonzero(rng.random(spec.days) >= spec.missing_rate)


def _months(spec: ScaleSpec) -> list[tuple[str, np.ndarray]]:
    offsets = np.arange(spec.days)
    months = (np.datetime64(spec.start) + offsets.astype("timedelta64[D]")).astype("datetime64[M]")
    return [(str(m), offsets[months == m]) for m in np.unique(months)]


def _write_subjects(args: tuple) -> dict[str, list]:
    """Worker: every month file of a range of subjects; returns the manifest entries per dataset."""
    lake_root, spec, template, subjects, received_at = args
    lake = Lake(lake_root)
    manifest = Manifest(lake_root)
    entries: dict[str, list] = {}
    months = _months(spec)
    for i in subjects:
        worn = set(_worn(spec, i).tolist())
        username = spec.username(i)
        for month, offsets in months:
            days = np.array([o for o in offsets if o in worn], dtype=np.int64)
            if days.size == 0:
                continue
            for name, per_subject in template.items():
                t = i % TEMPLATE_SUBJECTS
                if t not in per_subject:
                    continue
                table = _tile(per_subject[t], days, i, spec, received_at)
                path = lake.month_file(name, username, month)
                path.parent.mkdir(parents=True, exist_ok=True)
                # A fresh benchmark lake: no temp file + fsync per file (the lake's own writer does that).
                pq.write_table(table, path, compression="zstd")
                entries.setdefault(name, []).extend(month_entries(manifest, name, username, path, table))
    return entries


def write_scale_lake(data_dir: str | os.PathLike[str], spec: ScaleSpec, *, workers: int = 2) -> dict[str, int]:
    """Write the lake (summaries, small tables, study side) under data_dir/lake; returns files per dataset."""
    lake_root = Path(data_dir) / "lake"
    received_at = datetime(2027, 1, 20, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        template = _template(Path(tmp), spec.start)
    lake = Lake(lake_root)
    chunks = [range(w, spec.subjects, workers) for w in range(workers)]
    with ProcessPoolExecutor(workers) as pool:
        results = list(pool.map(_write_subjects, [(lake_root, spec, template, c, received_at) for c in chunks]))
    manifest = Manifest(lake_root)
    counts: dict[str, int] = {}
    for name in template:
        merged = [e for r in results for e in r.get(name, [])]
        manifest.record(merged)
        counts[name] = len({e.file for e in merged})
    _write_study_tables(lake, spec, received_at)
    manifest.checkpoint()
    return counts


def _write_study_tables(lake: Lake, spec: ScaleSpec, received_at: datetime) -> None:
    from hexo_pipeline.ingest.study_side import datatypes_table

    n = spec.subjects
    users = [spec.user_id(i) for i in range(n)]
    names = [spec.username(i) for i in range(n)]
    lake.write_study_table(
        "subjects",
        pa.Table.from_pylist(
            [
                {
                    "user_id": u,
                    "username": s,
                    "first_name": "Scale",
                    "last_name": s[-4:],
                    "email": f"{s}@example.org",
                    "received_at": received_at,
                }
                for u, s in zip(users, names, strict=True)
            ],
            contract.schema_of("subjects"),
        ),
    )
    lake.write_study_table("datatypes", datatypes_table())
    last = spec.end - timedelta(days=1)
    lake.write_study_table(
        "study",
        pa.Table.from_pylist(
            [
                {
                    "study_id": 1,
                    "uuid": STUDY_UUID,
                    "name": f"Scale study {n} x {spec.days}",
                    "start_date": spec.start,
                    "end_date": last,
                    "timezone": "UTC",
                    "owner_id": 1,
                    "planning_json": "[]",
                    "last_modified": received_at,
                    "received_at": received_at,
                }
            ],
            contract.schema_of("study"),
        ),
    )
    lake.write_study_table(
        "study_groups",
        pa.Table.from_pylist(
            [
                {"group_id": 11, "study_id": 1, "name": "control", "description": "", "received_at": received_at},
                {"group_id": 12, "study_id": 1, "name": "intervention", "description": "", "received_at": received_at},
            ],
            contract.schema_of("study_groups"),
        ),
    )
    lake.write_study_table(
        "study_members",
        pa.Table.from_pylist(
            [
                {
                    "member_id": 100 + i,
                    "study_id": 1,
                    "user_id": u,
                    "subject_id": s.split("_", 1)[1],
                    "onboarding_date": spec.start,
                    "end_date": last,
                    "group_id": 11 + i % 2,
                    "last_modified": received_at,
                    "received_at": received_at,
                }
                for i, (u, s) in enumerate(zip(users, names, strict=True))
            ],
            contract.schema_of("study_members"),
        ),
    )
    lake.write_study_table(
        "study_group_history",
        pa.Table.from_pylist(
            [
                {
                    "user_id": u,
                    "group_id": 11 + i % 2,
                    "since": spec.start,
                    "assignment_index": 0,
                    "assigned_at": datetime.combine(spec.start, datetime.min.time(), tzinfo=UTC),
                    "received_at": received_at,
                }
                for i, u in enumerate(users)
            ],
            contract.schema_of("study_group_history"),
        ),
    )


def write_days(
    data_dir: str | os.PathLike[str],
    spec: ScaleSpec,
    offsets: Iterable[int],
    subjects: Iterable[int],
    received_at: datetime,
) -> int:
    """New or re-ingested subject-days as the ingestion writes them (daily files, one manifest entry each)."""
    lake = Lake(Path(data_dir) / "lake")
    with tempfile.TemporaryDirectory() as tmp:
        template = _template(Path(tmp), spec.start)
    written = 0
    for i in subjects:
        for offset in offsets:
            day = spec.start + timedelta(days=int(offset))
            for name, per_subject in template.items():
                t = i % TEMPLATE_SUBJECTS
                if t in per_subject:
                    table = _tile(per_subject[t], np.array([offset], dtype=np.int64), i, spec, received_at)
                    own_date = "date" in contract.schema_of(name).names
                    lake.write_partition(
                        name, spec.username(i), day, table if own_date else table.drop_columns(["date"])
                    )
                    written += 1
    return written


def files_in(path: Path) -> int:
    return sum(1 for _ in path.rglob("*.parquet"))


def read_rows(path: Path) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in path.rglob("*.parquet"))
