"""The Parquet lake under `$HEXO_DATA_DIR/lake/`: hive layout, atomic partition writes, manifest entries.

Layout (one file per dataset partition, so re-materializing a subject-day replaces exactly its files):

    lake/<dataset>/subject=<username>/date=<YYYY-MM-DD>/part-0.parquet   (subject-day datasets)
    lake/<dataset>/subject=<username>/month=<YYYY-MM>/part-0.parquet     (a compacted month, compaction.py)
    lake/<dataset>/data.parquet                                          (study-level datasets)
    lake/_manifest/<dataset>/...                                         (manifest.py)

A subject-day is a local day in the study's time zone. Every write goes to a temp file in the target
folder, then `os.replace`, so readers (dbt, BI) never see half a file; then the manifest entry is added.
On object storage (HEXO_LAKE_URL=s3://..., storage.py) the same paths are object keys, each written in one
upload, then its entry; then the writer checks that the object is still the one it uploaded (its write
token): when a writer on another machine replaced it meanwhile, an entry describing the stored object is
recorded (last writer wins), so the latest entry always describes the object that is there, without a lock
shared by the machines (`_commit`).
An empty table removes the partition's file: a record deleted upstream disappears downstream on the next
run. Writing a day of a compacted month first takes that day's rows out of the month file, so a row is
never in two files.
"""

from __future__ import annotations

import fcntl
import os
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from . import contract, storage
from .manifest import DELETE, WRITE, Entry, Manifest, newest_received_at
from .storage import data_dir, ensure_folder, prune_empty, read_table

__all__ = ["Lake", "LakeFile", "data_dir", "lake_files", "month_entries", "prune_empty", "write_table"]

PART_FILE = "part-0.parquet"
STUDY_FILE = "data.parquet"

# Time series with delta-friendly integers get the tuned signal encodings; other tables plain zstd.
TABLE_OPTIONS = {"compression": "zstd", "write_statistics": True}
LOCK_STRIPES = 64
# Times a writer re-describes an object other writers keep replacing before it gives up (store._commit).
COMMIT_ATTEMPTS = 5


def month_of(day: date) -> str:
    return day.strftime("%Y-%m")


class Lake:
    def __init__(self, root: str | os.PathLike[str]):
        """`root`: a folder, or an `s3://bucket/prefix` URL (storage.py)."""
        self.root = storage.lake_root(root)
        self.locks = storage.local_lock_folder(self.root)
        self.manifest = Manifest(self.root, lock_folder=self.locks)

    @classmethod
    def in_data_dir(cls, data_root: str | os.PathLike[str] | None = None) -> Lake:
        """The lake of this environment: HEXO_LAKE_URL when set, else `<data dir>/lake`."""
        return cls(storage.configured_lake_root(data_root))

    @property
    def is_remote(self) -> bool:
        return storage.is_remote(self.root)

    def staged_file(self, path: Path, schema: pa.Schema, **options):
        """A Parquet file streamed row group by row group that appears at `path` only on `commit()`."""
        return storage.staged_parquet_file(path, schema, **options)

    def read_file(self, path: Path, **options) -> pa.Table:
        """`pq.read_table` of one of the lake's files (local or remote)."""
        return read_table(path, **options)

    # -- paths ---------------------------------------------------------------------------------------
    def partition_dir(self, dataset: str, subject: str, day: date) -> Path:
        check_key(subject)
        return self.root / dataset / f"subject={subject}" / f"date={day.isoformat()}"

    def partition_file(self, dataset: str, subject: str, day: date) -> Path:
        return self.partition_dir(dataset, subject, day) / PART_FILE

    def month_file(self, dataset: str, subject: str, month: str) -> Path:
        check_key(subject)
        return self.root / dataset / f"subject={subject}" / f"month={month}" / PART_FILE

    def dataset_glob(self, dataset: str) -> str:
        """The hive glob of a dataset's daily files: `read_parquet(glob, hive_partitioning = true)`."""
        return str(self.root / dataset / "subject=*" / "date=*" / "*.parquet")

    def month_glob(self, dataset: str) -> str:
        """The hive glob of a dataset's compacted months (rows carry their `date`)."""
        return str(self.root / dataset / "subject=*" / "month=*" / "*.parquet")

    # -- subject-day partitions ----------------------------------------------------------------------
    def write_partition(
        self, dataset: str, subject: str, day: date, table: pa.Table | None, *, signal: bool | None = None
    ) -> Path | None:
        """Replace one subject-day partition of a dataset; None/empty removes it. Returns the file."""
        target = self.partition_file(dataset, subject, day)
        signal = _contract_signal(dataset) if signal is None else signal
        with self.writing(dataset), self._partition_lock(dataset, subject, day):
            month = self.month_file(dataset, subject, month_of(day))
            in_month = month.exists() and self._take_day_out_of_month(dataset, subject, day, month)
            if table is None or table.num_rows == 0:
                existed = storage.remove(target)
                prune_empty(target.parent, stop=self.root)
                if existed or in_month:
                    self.manifest.record([Entry(dataset, subject, day, DELETE, None)])
                return None
            ensure_folder(target.parent)
            write_table(table, target, signal=signal)
            self._commit(dataset, subject, day, target, rows=table.num_rows, received_at=newest_received_at(table))
            return target

    def record_partition_file(
        self, dataset: str, subject: str, day: date, path: Path, *, rows: int, received_at: datetime | None
    ) -> None:
        """Record in the manifest a partition file its writer streamed into place itself (the signals,
        written row group by row group, then renamed): the same entry `write_partition` records."""
        self._commit(dataset, subject, day, path, rows=rows, received_at=received_at)

    def _commit(
        self,
        dataset: str,
        subject: str | None,
        day: date | None,
        path: Path,
        *,
        rows: int,
        received_at: datetime | None,
    ) -> None:
        """Record the entry of a file just written. The entry is the commit point; on object storage, a
        writer on another machine (whose locks are not ours) may have replaced the object between our
        upload and our entry. So the object's write token is checked after the entry is recorded, and
        while it is not the token of what the entry describes, an entry describing the stored object is
        recorded (its facts read from the object): the last upload wins, and the latest entry describes
        it. Locally, the partition lock orders writers and a rename cannot be interleaved: one entry."""
        entry = self.manifest.entry_for_file(dataset, subject, day, path, rows=rows, received_at=received_at)
        token = storage.upload_token(path)
        for _ in range(COMMIT_ATTEMPTS):
            self.manifest.record([entry])
            if token is None:
                return
            stored = storage.stored_token(path)
            if stored == token:
                return
            # Replaced (or removed) by another writer: describe what is there now, then check again.
            token = stored
            entry = self._describe_stored(dataset, subject, day, path)
        raise RuntimeError(
            f"{path}: replaced by other writers {COMMIT_ATTEMPTS} times while its manifest entry was recorded; "
            "run `hexo-pipeline lake verify` and materialize the partition again"
        )

    def _describe_stored(self, dataset: str, subject: str | None, day: date | None, path: Path) -> Entry:
        """The entry of the object now at `path` (a delete when there is none), from one download: reads
        of the object in several requests could mix two versions while another writer replaces it."""
        try:
            with storage.local_copy(path) as local:
                footer = storage.read_metadata(local)
                stamps = read_table(local, columns=[c for c in footer.schema.names if c == "received_at"])
                facts = storage.file_facts(local)
        except FileNotFoundError:
            return Entry(dataset, subject, day, DELETE, None)
        file = path.relative_to(self.root).as_posix()
        received = newest_received_at(stamps) if stamps.num_columns else None
        return Entry(dataset, subject, day, WRITE, file, footer.num_rows, facts.size, received, facts.sha256)

    def read_partition(self, dataset: str, subject: str, day: date) -> pa.Table | None:
        path = self.partition_file(dataset, subject, day)
        if path.exists():
            return read_table(path)
        month = self.month_file(dataset, subject, month_of(day))
        if month.exists():
            rows = read_table(month, filters=[("date", "=", day)])
            if not rows.num_rows:
                return None
            own_date = dataset in contract.DATASETS and "date" in contract.DATASETS[dataset].schema.names
            return rows if own_date else rows.drop_columns(["date"])
        return None

    @contextmanager
    def writing(self, dataset: str, *, exclusive: bool = False) -> Iterator[None]:
        """Writers of a compactable dataset hold its lock shared; compaction holds it exclusive."""
        if dataset not in contract.DATASETS or not contract.DATASETS[dataset].compactable:
            yield
            return
        folder = self.locks / dataset
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / ".write.lock", "a+") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    @contextmanager
    def _partition_lock(self, dataset: str, subject: str, day: date) -> Iterator[None]:
        """Two writers of one partition (two processes) write file and entry one after the other, so the
        latest entry always describes the file that is there. Striped: 64 lock files, not one per partition."""
        folder = self.locks / ".locks"
        folder.mkdir(parents=True, exist_ok=True)
        stripe = zlib.crc32(f"{dataset}/{subject}/{month_of(day)}".encode()) % LOCK_STRIPES
        with open(folder / f"{stripe:02d}.lock", "a+") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _take_day_out_of_month(self, dataset: str, subject: str, day: date, month: Path) -> bool:
        """Remove a day's rows from a compacted month file (rewritten atomically); True if it held any."""
        table = read_table(month)
        keep = pc.not_equal(table.column("date"), pa.scalar(day, pa.date32()))
        rest = table.filter(keep)
        if rest.num_rows == table.num_rows:
            return False
        if rest.num_rows == 0:
            storage.remove(month)
            prune_empty(month.parent, stop=self.root)
        else:
            write_table(rest, month, signal=_contract_signal(dataset))
            self.manifest.record(month_entries(self.manifest, dataset, subject, month, rest))
        return True

    # -- study-level tables --------------------------------------------------------------------------
    def write_study_table(self, dataset: str, table: pa.Table) -> Path:
        target = self.root / dataset / STUDY_FILE
        ensure_folder(target.parent)
        write_table(table, target, signal=False)
        self._commit(dataset, None, None, target, rows=table.num_rows, received_at=newest_received_at(table))
        return target

    def read_study_table(self, dataset: str) -> pa.Table | None:
        path = self.root / dataset / STUDY_FILE
        return read_table(path) if path.exists() else None


def month_entries(manifest: Manifest, dataset: str, subject: str, path: Path, table: pa.Table) -> list[Entry]:
    """One entry per day held by a month file, each with that day's rows and newest received_at."""
    base = manifest.entry_for_file(dataset, subject, None, path, rows=0, received_at=None)
    if "received_at" in table.column_names:
        grouped = table.group_by("date").aggregate([("date", "count"), ("received_at", "max")])
        received = grouped.column("received_at_max").to_pylist()
    else:
        grouped = table.group_by("date").aggregate([("date", "count")])
        received = [None] * grouped.num_rows
    return [
        Entry(dataset, subject, day, base.op, base.file, rows, base.bytes, at, base.sha256)
        for day, rows, at in zip(grouped.column("date").to_pylist(), grouped.column("date_count").to_pylist(), received)
    ]


def write_table(table: pa.Table, target: Path, *, signal: bool) -> Path:
    """Atomic Parquet write: signals with the tuned encodings (plus lineage columns), else zstd. A remote
    target is written locally, then uploaded in one request (storage.writing_file)."""
    from ..decoders.parquet import SIGNAL_PARQUET_OPTIONS, atomic_write_parquet, write_signal_parquet

    with storage.writing_file(target) as local:
        if not signal:
            atomic_write_parquet(table, local, **TABLE_OPTIONS)
        elif set(table.column_names) == {"ts", "datatype_id", "value"}:
            write_signal_parquet(table, local)
        else:
            options = dict(SIGNAL_PARQUET_OPTIONS)
            options["use_dictionary"] = [
                c for c in ("datatype_id", "record_id", "received_at", "date") if c in table.column_names
            ]
            atomic_write_parquet(table, local, **options)
    return target


def _contract_signal(dataset: str) -> bool:
    return dataset in contract.DATASETS and contract.DATASETS[dataset].signal


def check_key(key: str) -> None:
    # Partition keys become folder names and Dagster partition keys: keep them to a safe alphabet.
    if not key or any(c in key for c in "/\\|,[]= ") or key in (".", ".."):
        raise ValueError(f"unsafe subject key {key!r}")


# -- what the lake holds on disk (verify.py, manifest rebuild, compaction) -------------------------------


@dataclass(frozen=True)
class LakeFile:
    path: Path
    dataset: str
    subject: str | None = None
    date: date | None = None  # a daily file
    month: str | None = None  # a compacted month file
    size: int | None = None  # bytes, when the listing gave it

    def days(self, lake_root: Path) -> list[date | None]:
        """The partitions the file holds (a month file: the dates in its rows)."""
        if self.month is None:
            return [self.date]
        dates = read_table(self.path, columns=["date"]).column("date")
        return sorted(set(dates.to_pylist()))

    def byte_size(self) -> int:
        return self.size if self.size is not None else self.path.stat().st_size


def lake_files(root: Path, dataset_names: Iterable[str] | None = None) -> dict[str, list[LakeFile]]:
    """Every data file of the lake by dataset (directory listings only: no file is opened)."""
    if storage.is_remote(root):
        return _remote_lake_files(root, dataset_names)
    out: dict[str, list[LakeFile]] = {}
    for name in _dataset_names(root, dataset_names):
        files: list[LakeFile] = []
        for rel, size, subject, key, value in _local_files(root, name):
            if key is None:
                files.append(LakeFile(root / rel, name, size=size))
            elif key == "date":
                files.append(LakeFile(root / rel, name, subject, date=date.fromisoformat(value), size=size))
            else:
                files.append(LakeFile(root / rel, name, subject, month=value, size=size))
        out[name] = files
    return out


def lake_file_sizes(root: Path, dataset_names: Iterable[str] | None = None) -> dict[str, list[tuple[str, int]]]:
    """(lake-relative POSIX path, bytes) of every data file, by dataset: what `lake_files` lists, without a
    LakeFile and its Path per file (verify_lake compares ~100,000 of them with the manifest at study scale)."""
    if storage.is_remote(root):
        return {
            name: [(f.path.relative_to(root).as_posix(), f.byte_size()) for f in files]
            for name, files in _remote_lake_files(root, dataset_names).items()
        }
    return {name: [f[:2] for f in _local_files(root, name)] for name in _dataset_names(root, dataset_names)}


def _dataset_names(root: Path, dataset_names: Iterable[str] | None) -> list[str]:
    if dataset_names is not None:
        return list(dataset_names)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))


def _local_files(root: Path, name: str) -> Iterator[tuple[str, int, str | None, str | None, str | None]]:
    """(relative path, bytes, subject, "date" or "month", its value) of a local dataset's files, in order:
    os.scandir, so a folder's type costs no stat call and a file's size one."""
    folder = os.path.join(root, name)
    study = os.path.join(folder, STUDY_FILE)
    if os.path.isfile(study):
        yield f"{name}/{STUDY_FILE}", os.stat(study).st_size, None, None, None
    for subject_dir in _dirs(folder, "subject="):
        subject = subject_dir.name.split("=", 1)[1]
        for part in _dirs(subject_dir.path, ""):
            key, _, value = part.name.partition("=")
            if key not in ("date", "month"):
                continue
            with os.scandir(part.path) as entries:
                found = sorted(
                    (e.name, e.stat().st_size)
                    for e in entries
                    if e.name.endswith(".parquet") and not e.name.startswith(".")
                )
            for file_name, size in found:
                yield f"{name}/{subject_dir.name}/{part.name}/{file_name}", size, subject, key, value


def _dirs(folder: str, prefix: str) -> list[os.DirEntry]:
    """The `key=value` subfolders of a folder, by name (os.scandir: the entry's type costs no stat call)."""
    try:
        with os.scandir(folder) as entries:
            found = [e for e in entries if e.name.startswith(prefix) and "=" in e.name and e.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(found, key=lambda e: e.name)


def _remote_lake_files(root: Path, dataset_names: Iterable[str] | None) -> dict[str, list[LakeFile]]:
    """`lake_files` of object storage: one paginated listing per dataset prefix (a LIST returns 1,000 keys
    with their sizes), instead of one request per folder."""
    if dataset_names is None:  # the top-level "folders" (one delimited LIST)
        dataset_names = sorted(p.name for p in storage.list_folders(root) if not p.name.startswith(("_", ".")))
    out: dict[str, list[LakeFile]] = {}
    for name in dataset_names:
        files: list[LakeFile] = []
        for f in storage.list_files(root / name):
            parts = f.relative.split("/")
            if not parts[-1].endswith(".parquet") or parts[-1].startswith("."):
                continue
            if parts == [STUDY_FILE]:
                files.append(LakeFile(f.path, name, size=f.size))
            elif len(parts) == 3 and parts[0].startswith("subject=") and "=" in parts[1]:
                subject = parts[0].split("=", 1)[1]
                key, _, value = parts[1].partition("=")
                if key == "date":
                    files.append(LakeFile(f.path, name, subject, date=date.fromisoformat(value), size=f.size))
                elif key == "month":
                    files.append(LakeFile(f.path, name, subject, month=value, size=f.size))
        out[name] = files
    return out
