"""The lake manifest: which file holds each partition, with its rows, bytes, newest received_at and hash.

    lake/_manifest/<dataset>/snapshot.parquet     the latest entry per partition at the last checkpoint
    lake/_manifest/<dataset>/log/<time>-<pid>-<id>.parquet   entries written since (a few rows each)

Every partition write (or delete) by `Lake` first replaces the data file (temp + rename), then adds one
log file (temp + rename) with a unique name: two writers, in two processes, never touch the same manifest
file, so no entry is ever lost. A compaction records all the days it moved in one log file, so they
change together. The current state of a partition is its entry with the greatest `written_at` (then
`entry`) in the union of the snapshot and the log; `op = 'delete'` means the partition has no file.

`checkpoint()` folds the log into the snapshot (one Parquet file per dataset, a few MB at 365,000
partitions), so readers (the dbt macros, `verify_lake`) read one small file and a short log. It runs
under an exclusive lock (`_manifest/.lock`); readers that read the log hold the same lock shared, so a
log file never disappears under a reader. Writers take no lock: they only create new log files, and a
checkpoint deletes only the log files it has folded in.

A crash between the data file and its entry leaves a file the manifest does not know: `verify_lake`
reports it (and `rebuild()` records what the lake holds).

On object storage (storage.py) a log file is one PUT of its final name (an object appears whole), the
snapshot one upload; the locks are local files (`Lake.locks`).
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import storage

MANIFEST_DIR = "_manifest"
SNAPSHOT = "snapshot.parquet"
LOG = "log"
WRITE, DELETE = "write", "delete"

ENTRY_SCHEMA = pa.schema(
    [
        ("dataset", pa.string()),
        ("subject", pa.string()),
        ("date", pa.date32()),
        ("op", pa.string()),
        ("file", pa.string()),  # relative to the lake root; null for a delete
        ("rows", pa.int64()),
        ("bytes", pa.int64()),
        ("received_at", pa.timestamp("us", tz="UTC")),  # the newest received_at of the partition's rows
        ("sha256", pa.string()),  # of the whole file
        ("written_at", pa.timestamp("us", tz="UTC")),
        ("entry", pa.string()),  # the log file that carried it (tie-break, debugging)
    ]
)


@dataclass(frozen=True)
class Entry:
    dataset: str
    subject: str | None
    date: date | None
    op: str
    file: str | None
    rows: int = 0
    bytes: int = 0
    received_at: datetime | None = None
    sha256: str | None = None
    written_at: datetime | None = None
    entry: str | None = None


def file_sha256(path: Path) -> str:
    return storage.file_facts(path).sha256


def newest_received_at(table: pa.Table) -> datetime | None:
    if "received_at" not in table.column_names or table.num_rows == 0:
        return None
    value = pc.max(table.column("received_at").cast(pa.timestamp("us", tz="UTC"))).as_py()
    return value


class Manifest:
    def __init__(self, lake_root: str | os.PathLike[str], *, lock_folder: Path | None = None):
        self.lake_root = storage.lake_root(lake_root)
        self.root = self.lake_root / MANIFEST_DIR
        self.locks = lock_folder or storage.local_lock_folder(self.lake_root)  # flock files: always local

    # -- writing -------------------------------------------------------------------------------------
    def entry_for_file(
        self,
        dataset: str,
        subject: str | None,
        day: date | None,
        path: Path,
        *,
        rows: int,
        received_at: datetime | None,
    ) -> Entry:
        facts = storage.file_facts(path)
        return Entry(
            dataset,
            subject,
            day,
            WRITE,
            path.relative_to(self.lake_root).as_posix(),
            rows,
            facts.size,
            received_at,
            facts.sha256,
        )

    def record(self, entries: Iterable[Entry]) -> Path | None:
        """Append entries as one new log file (temp + rename): they become current together."""
        entries = list(entries)
        if not entries:
            return None
        by_dataset = {e.dataset for e in entries}
        if len(by_dataset) != 1:
            raise ValueError("one log file holds entries of one dataset")
        folder = self.root / by_dataset.pop() / LOG
        storage.ensure_folder(folder)
        now = datetime.now(UTC)
        name = f"{now.strftime('%Y%m%dT%H%M%S%f')}-{os.getpid()}-{uuid.uuid4().hex[:12]}.parquet"
        rows = [{**asdict(e), "written_at": now, "entry": name} for e in entries]
        # Parquet, not JSON: DuckDB opens hundreds of small Parquet files far faster than JSON ones.
        buffer = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(rows, schema=ENTRY_SCHEMA), buffer, compression="zstd")
        storage.write_bytes_atomic(buffer.getvalue(), folder / name)  # temp + fsync + rename, or one PUT
        return folder / name

    # -- reading -------------------------------------------------------------------------------------
    @contextmanager
    def _lock(self, mode: int) -> Iterator[None]:
        self.locks.mkdir(parents=True, exist_ok=True)
        with open(self.locks / ".lock", "a+") as fh:
            fcntl.flock(fh.fileno(), mode)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Hold while reading the log (a checkpoint waits): builds hold it for the whole dbt run."""
        with self._lock(fcntl.LOCK_SH):
            yield

    def datasets(self) -> list[str]:
        return sorted(p.name for p in storage.list_folders(self.root) if not p.name.startswith("."))

    def current_sql(self, dataset: str) -> str | None:
        """SQL of the current entry per partition of a dataset (deletes included), None when it has none."""
        return current_sql(self.root / dataset)

    def current(self, dataset: str, *, include_deletes: bool = False) -> pa.Table:
        """The current entry of every partition of a dataset (ENTRY_SCHEMA)."""
        with self.reading():
            return self._current(dataset, include_deletes=include_deletes)

    def files_of(self, datasets: Iterable[str]) -> dict[str, pa.Table]:
        """One row per current file of each dataset (file, bytes, written_at, subject, date: a compacted
        month file holds the entries of all its days: its first, and its newest write time), grouped in DuckDB under one
        hold of the lock: a two-year study has millions of current entries and only ~1e5 files."""
        out = {}
        with self.reading():
            con = storage.duckdb_connection(self.lake_root)
            try:
                con.execute("set TimeZone = 'UTC'")
                for name in datasets:
                    sql = self.current_sql(name)
                    if sql is None:
                        out[name] = ENTRY_SCHEMA.empty_table().select(list(_FILE_COLUMNS))
                        continue
                    out[name] = con.sql(
                        f"select file, any_value(bytes) as bytes, max(written_at) as written_at, "
                        f"min(subject) as subject, min(date) as date from ({sql}) "
                        f"where op = '{WRITE}' group by file"
                    ).to_arrow_table()
            finally:
                con.close()
        return out

    def _current(self, dataset: str, *, include_deletes: bool) -> pa.Table:
        sql = self.current_sql(dataset)
        if sql is None:
            return ENTRY_SCHEMA.empty_table()
        where = "" if include_deletes else f"where op = '{WRITE}'"
        con = storage.duckdb_connection(self.lake_root)
        try:
            con.execute("set TimeZone = 'UTC'")
            table = con.sql(f"select * from ({sql}) {where} order by subject, date").to_arrow_table()
        finally:
            con.close()
        return table.select(ENTRY_SCHEMA.names).cast(ENTRY_SCHEMA)

    # -- checkpoint and rebuild ----------------------------------------------------------------------
    def version(self) -> str:
        """A digest that changes whenever an entry is recorded (by the name, size and time of every snapshot
        and log file): two equal versions, the same lake. A directory listing of the manifest only."""
        digest = hashlib.sha256()
        for name in self.datasets():
            for f in storage.list_files(self.root / name):
                if f.relative.endswith(".parquet"):
                    digest.update(f"{name}/{f.relative}:{f.size}:{f.stamp}\n".encode())
        return digest.hexdigest()[:16]

    def checkpoint(self, dataset: str | None = None, *, min_log_files: int = 1) -> None:
        """Fold the log of a dataset (every dataset when None) into its snapshot; a dataset whose log has
        fewer than `min_log_files` files is left as it is (a short log costs its readers little, and a
        checkpoint rewrites the whole snapshot)."""
        with self._lock(fcntl.LOCK_EX):
            for name in [dataset] if dataset else self.datasets():
                logs = log_files(self.root / name)
                if not logs or len(logs) < min_log_files:
                    continue
                current = self._current(name, include_deletes=False)
                target = self.root / name / SNAPSHOT
                with storage.writing_file(target) as local:
                    tmp = local.with_name(f".{SNAPSHOT}.{os.getpid()}.tmp")
                    pq.write_table(current, tmp, compression="zstd")
                    os.replace(tmp, local)
                storage.remove_many(logs)  # only what this snapshot holds; newer log files stay


_FILE_COLUMNS = ("file", "bytes", "written_at", "subject", "date")


def current_sql(folder: Path) -> str | None:
    """SQL of the current entry per partition of one dataset's manifest folder, None when it has none.

    The snapshot holds one row per partition already (a checkpoint writes the latest writes only), so
    only the short log is ranked; snapshot rows the log supersedes are left out."""
    snapshot = folder / SNAPSHOT
    log = (
        f"select * from read_parquet('{folder / LOG}/*.parquet') "
        "qualify row_number() over (partition by subject, date order by written_at desc, entry desc) = 1"
    )
    has_snapshot, has_log = snapshot.exists(), bool(log_files(folder))
    if has_snapshot and has_log:
        return (
            f"with log as ({log}) select * from read_parquet('{snapshot}') as s where not exists ("
            "select 1 from log where log.subject is not distinct from s.subject "
            "and log.date is not distinct from s.date) union all by name select * from log"
        )
    if has_snapshot:
        return f"select * from read_parquet('{snapshot}')"
    return log if has_log else None


def log_files(folder: Path) -> list[Path]:
    """The log files of one dataset's manifest folder (one listing)."""
    return [
        f.path
        for f in storage.list_files(folder / LOG)
        if "/" not in f.relative and f.relative.endswith(".parquet") and not f.relative.startswith(".")
    ]


def stats_max(meta: pq.FileMetaData, column: str) -> datetime | None:
    names = meta.schema.names
    if column not in names:
        return None
    index = names.index(column)
    best = None
    for g in range(meta.num_row_groups):
        stats = meta.row_group(g).column(index).statistics
        if stats is not None and stats.has_min_max and (best is None or stats.max > best):
            best = stats.max
    if isinstance(best, datetime) and best.tzinfo is None:
        best = best.replace(tzinfo=UTC)
    return best
