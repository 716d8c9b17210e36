"""Write signal tables to Parquet with encodings chosen for sorted integer time series, atomically.

Why these settings (measured on the real Astroskin ECG, see the decoders report):
- `ts` and `value` use DELTA_BINARY_PACKED without dictionary: timestamps of a sorted channel have a
  constant step (3,906,250 ns at 256 Hz) and raw ADC values move by small steps, so deltas bit-pack to a
  few bits per sample, where a dictionary of unique timestamps is as big as the data itself.
- `datatype_id` keeps dictionary + RLE: a handful of ids in long runs, nearly free.
- zstd compresses what the encodings leave better than snappy at similar write speed.
- rows are sorted by (datatype_id, ts) and the footer says so (`sorting_columns`), so readers
  (DuckDB, pyarrow) can prune row groups by statistics.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from hexo_pipeline.decoders.schemas import SIGNAL_SCHEMA

SIGNAL_PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "use_dictionary": ["datatype_id"],
    "column_encoding": {"ts": "DELTA_BINARY_PACKED", "value": "DELTA_BINARY_PACKED"},
    "write_statistics": True,
    "sorting_columns": [pq.SortingColumn(1), pq.SortingColumn(0)],  # (datatype_id, ts)
}


def is_sorted_by_id_then_ts(table: pa.Table) -> bool:
    """Vectorised check of the (datatype_id, ts) order the encodings rely on."""
    if table.num_rows < 2:
        return True
    ids = table.column("datatype_id").to_numpy()
    ts = table.column("ts").cast(pa.int64()).to_numpy()
    d_id, d_ts = np.diff(ids.astype(np.int64)), np.diff(ts)
    return bool(np.all((d_id > 0) | ((d_id == 0) & (d_ts >= 0))))


def write_signal_parquet(table: pa.Table, path: str | os.PathLike[str]) -> Path:
    """Write one family table (SIGNAL_SCHEMA) to `path` atomically; returns the path.

    The file appears complete or not at all: it is written to a temporary file in the same folder
    (same filesystem, so the rename is atomic), flushed to disk, then moved over `path` with os.replace.
    Unsorted input is sorted first, because the delta encodings and `sorting_columns` assume it.
    """
    if not table.schema.equals(SIGNAL_SCHEMA):
        raise ValueError(f"not a signal table: schema\n{table.schema}\nexpected\n{SIGNAL_SCHEMA}")
    if not is_sorted_by_id_then_ts(table):
        table = table.sort_by([("datatype_id", "ascending"), ("ts", "ascending")])
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_parquet(table, target, **SIGNAL_PARQUET_OPTIONS)


def atomic_write_parquet(table: pa.Table, path: str | os.PathLike[str], **options: Any) -> Path:
    """pq.write_table to a temp file beside `path`, fsync, os.replace. Any Parquet options pass through."""
    target = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            pq.write_table(table, fh, **options)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    return target


# Lake signal files also carry the lineage columns (record_id, received_at): constant over long runs, so a
# dictionary + RLE stores them for almost nothing (the same options `Lake.write_partition(signal=True)` uses).
SIGNAL_LINEAGE_PARQUET_OPTIONS: dict[str, Any] = {
    **SIGNAL_PARQUET_OPTIONS,
    "use_dictionary": ["datatype_id", "record_id", "received_at"],
}


class StagedParquetFile:
    """A Parquet file written in pieces (one row group per `write`) to a temp file beside `path`, that
    appears at `path` only on `commit()` (fsync + os.replace) and never if `abort()` is called instead.

    It lets a writer stream a partition of any length in bounded memory and still replace the previous
    file atomically. Each `write` must be sorted the way the options' `sorting_columns` say: the footer
    states the order per row group.
    """

    def __init__(self, path: str | os.PathLike[str], schema: pa.Schema, **options: Any):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        self.tmp = Path(name)
        self._fh = os.fdopen(fd, "wb")
        self._writer: pq.ParquetWriter | None = pq.ParquetWriter(self._fh, schema, **options)
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        if table.num_rows:
            self._writer.write_table(table, row_group_size=table.num_rows)
            self.rows += table.num_rows

    def commit(self) -> Path:
        """Finish the file and move it over `path` (atomic on one filesystem)."""
        try:
            self._writer.close()
            self._writer = None
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            os.replace(self.tmp, self.path)
        except BaseException:
            self.abort()
            raise
        return self.path

    def abort(self) -> None:
        """Drop the temp file; `path` keeps whatever it held before."""
        try:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        except Exception:  # the file is discarded anyway
            pass
        finally:
            self._fh.close()
            self.tmp.unlink(missing_ok=True)


def remove_stale_staged(path: str | os.PathLike[str], older_than: float) -> int:
    """Delete the temp files a killed writer of `path` left beside it (StagedParquetFile names them
    `.<name>.<random>.tmp`; readers never see them), if last written before `older_than` (a Unix time,
    e.g. when the current writer started: a concurrent writer's file is newer). Returns how many."""
    path = Path(path)
    removed = 0
    for tmp in path.parent.glob(f".{path.name}.*.tmp") if path.parent.is_dir() else []:
        try:
            if tmp.stat().st_mtime < older_than:
                tmp.unlink()
                removed += 1
        except FileNotFoundError:  # its writer finished or aborted meanwhile
            pass
    return removed
