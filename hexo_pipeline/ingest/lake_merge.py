"""Read-merge-write of one lake partition that several writers share (no Dagster here).

Most datasets have one writer per partition, which replaces the file whole (`Lake.write_partition`).
Activity files (range exports and inbox files of the same subject-day) and imported signal exports
(beside the API's signals) share partitions, so each writer replaces only ITS rows: the existing file
is read, the writer's rows are dropped, its new rows are added, and the result is written atomically
(temp + rename, by `Lake.write_partition`). Merges are serialised by an exclusive file lock, and a merge
whose result equals the file already there (ignoring volatile columns such as `received_at`) does not
write at all, so re-running an ingestion changes nothing, not even a file's mtime.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..lake import Lake

# Columns that differ between two ingestions of identical content.
VOLATILE_COLUMNS = ("received_at", "decode_seconds")


@contextmanager
def lake_lock(data_root: str | os.PathLike[str]) -> Iterator[None]:
    """Exclusive lock for read-merge-write of shared partitions (across threads and processes)."""
    lock_dir = Path(data_root) / ".locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / "lake-merge.lock", "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def same_content(a: pa.Table, b: pa.Table, volatile: Sequence[str] = VOLATILE_COLUMNS) -> bool:
    """Equal rows in equal order, schema metadata and volatile columns aside."""
    if a.num_rows != b.num_rows or a.schema.remove_metadata() != b.schema.remove_metadata():
        return False
    drop = [c for c in volatile if c in a.column_names]
    return a.drop_columns(drop).equals(b.drop_columns(drop))


def merge_partition(
    lake: Lake,
    dataset: str,
    subject: str,
    day: date,
    new_rows: pa.Table | None,
    replaced: Callable[[pa.Table], np.ndarray],
    *,
    sort_by: Sequence[tuple[str, str]],
    signal: bool = False,
    finish: Callable[[pa.Table], pa.Table] | None = None,
) -> str:
    """Replace the rows `replaced(existing)` marks with `new_rows`; returns 'written', 'unchanged' or
    'removed'. The caller holds `lake_lock`. `new_rows` fixes the schema; existing rows are cast to it
    (a column added later becomes null in old rows). `finish` recomputes what depends on all the
    partition's rows (e.g. monitoring deltas) on the merged rows."""
    existing = lake.read_partition(dataset, subject, day)
    parts: list[pa.Table] = []
    if existing is not None and existing.num_rows:
        keep = ~np.asarray(replaced(existing), dtype=bool)
        kept = existing.filter(pa.array(keep)) if not keep.all() else existing
        if kept.num_rows:
            parts.append(kept)
    if new_rows is not None and new_rows.num_rows:
        new_rows = new_rows.replace_schema_metadata(None)
        parts = [_conform(p, new_rows.schema) for p in parts] + [new_rows]
    if not parts:
        if existing is None:
            return "unchanged"
        lake.write_partition(dataset, subject, day, None)
        return "removed"
    merged = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
    if finish is not None:
        merged = finish(merged)
    merged = merged.sort_by(list(sort_by))  # Arrow's sort is stable: ties keep input order
    if existing is not None and same_content(existing, merged):
        return "unchanged"
    lake.write_partition(dataset, subject, day, merged, signal=signal)
    return "written"


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """An older file's rows in the current schema (missing columns null, same order)."""
    table = table.replace_schema_metadata(None)
    if table.schema == schema:
        return table
    columns = [
        table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)
