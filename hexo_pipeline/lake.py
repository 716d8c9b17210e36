"""The Parquet lake under `$HEXO_DATA_DIR/lake/`: dataset names, hive layout, atomic partition writes.

Layout (one file per dataset partition, so re-materializing a subject-day replaces exactly its files):

    lake/<dataset>/subject=<username>/date=<YYYY-MM-DD>/part-0.parquet   (subject-day datasets)
    lake/<dataset>/data.parquet                                          (study-level datasets)

A subject-day is a local day in the study's time zone. Every write goes to a temp file in the target
folder, then `os.replace`, so readers (dbt, BI) never see half a file. An empty table removes the
partition's file: a record deleted upstream disappears downstream on the next run.
"""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .decoders.parquet import atomic_write_parquet, write_signal_parquet
from .hexoskin.datatypes import Family

PART_FILE = "part-0.parquet"
STUDY_FILE = "data.parquet"

SIGNAL_DATASETS: dict[Family, str] = {family: f"signals_{family.value}" for family in Family}

# Time series with delta-friendly integers get the tuned signal encodings; other tables plain zstd.
TABLE_OPTIONS = {"compression": "zstd", "write_statistics": True}


def data_dir() -> Path:
    return Path(os.environ.get("HEXO_DATA_DIR", "data")).resolve()


class Lake:
    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    @classmethod
    def in_data_dir(cls, data_root: str | os.PathLike[str] | None = None) -> "Lake":
        return cls(Path(data_root or data_dir()) / "lake")

    def partition_dir(self, dataset: str, subject: str, day: date) -> Path:
        _check_key(subject)
        return self.root / dataset / f"subject={subject}" / f"date={day.isoformat()}"

    def partition_file(self, dataset: str, subject: str, day: date) -> Path:
        return self.partition_dir(dataset, subject, day) / PART_FILE

    def write_partition(self, dataset: str, subject: str, day: date, table: pa.Table | None,
                        *, signal: bool = False) -> Path | None:
        """Replace one subject-day partition of a dataset; None/empty removes it. Returns the file."""
        target = self.partition_file(dataset, subject, day)
        if table is None or table.num_rows == 0:
            if target.exists():
                target.unlink()
            _prune_empty(target.parent, stop=self.root)
            return None
        target.parent.mkdir(parents=True, exist_ok=True)
        if signal:
            return _write_signal(table, target)
        return atomic_write_parquet(table, target, **TABLE_OPTIONS)

    def read_partition(self, dataset: str, subject: str, day: date) -> pa.Table | None:
        path = self.partition_file(dataset, subject, day)
        return pq.read_table(path) if path.exists() else None

    def write_study_table(self, dataset: str, table: pa.Table) -> Path:
        target = self.root / dataset / STUDY_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write_parquet(table, target, **TABLE_OPTIONS)

    def read_study_table(self, dataset: str) -> pa.Table | None:
        path = self.root / dataset / STUDY_FILE
        return pq.read_table(path) if path.exists() else None

    def dataset_glob(self, dataset: str) -> str:
        """The hive glob dbt/DuckDB read: `read_parquet(glob, hive_partitioning = true)`."""
        return str(self.root / dataset / "*" / "*" / "*.parquet")


def _write_signal(table: pa.Table, target: Path) -> Path:
    """Signals: the base columns with the tuned encodings, plus the lineage columns (record, receipt)."""
    from .decoders.parquet import SIGNAL_PARQUET_OPTIONS

    if set(table.column_names) == {"ts", "datatype_id", "value"}:
        return write_signal_parquet(table, target)
    options = dict(SIGNAL_PARQUET_OPTIONS)
    options["use_dictionary"] = ["datatype_id", "record_id", "received_at"]
    return atomic_write_parquet(table, target, **options)


def _check_key(key: str) -> None:
    # Partition keys become folder names and Dagster partition keys: keep them to a safe alphabet.
    if not key or any(c in key for c in "/\\|,[]= ") or key in (".", ".."):
        raise ValueError(f"unsafe subject key {key!r}")


def _prune_empty(folder: Path, stop: Path) -> None:
    while folder != stop and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def move_to_quarantine(data_root: Path, src: Path, reason: str, *, relative: str) -> Path:
    """Move an undecodable file to `quarantine/<relative>` with a `.reason.txt` beside it."""
    dest = data_root / "quarantine" / relative
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(src), dest)
    dest.with_name(dest.name + ".reason.txt").write_text(reason + "\n")
    return dest
