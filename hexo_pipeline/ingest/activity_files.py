"""Activity files (TCX/FIT) into the lake: each range's exports from the API, and files users drop into
the inbox (e.g. from other watches). Plain Python: `defs/activity_files/assets.py` wraps it in Dagster.

Where things go (`data_root` = `$HEXO_DATA_DIR`; `exports/` and `quarantine/` are beside the lake:
`$HEXO_DATA_DIR/...` for a local lake, `<HEXO_LAKE_URL>/_exports/...`, `_quarantine/...` on object storage):
- downloads: `exports/subject=<s>/date=<d>/range_<id>.tcx|.fit` (kept; written atomically, and left
  untouched when the server sends the same bytes again);
- inbox: `$HEXO_DATA_DIR/inbox/<file>` (subject unknown) or `inbox/<subject>/<file>` (folder convention),
  always a local folder (users drop files into it); inbox files stay where they are;
- undecodable files: `quarantine/range_exports/subject=<s>/date=<d>/range_<id>.<ext>` or
  `quarantine/inbox/<relative path>`, each with `<name>.reason.txt`; the caller gets the reason;
- tables: lake datasets `activity_files` (one row per file), `activities`, `activity_laps`,
  `activity_trackpoints`, `activity_rr_intervals`, partitioned `subject=<s>/date=<d>`. A range's files
  land in the subject-day where the range STARTS (a range crossing midnight is listed in both days'
  `ranges`, but is converted once). Inbox files land in `subject=<folder or _inbox>/date=<local start
  date of the file's first activity>`.

Decoding is `hexo_pipeline.decoders.convert_file` (lxml for TCX; fitparse, then fitdecode when fitparse
rejects a real file: the decoder used and fitparse's error are recorded per file). Files that raise
DecodeError are quarantined whole, even when a partial salvage exists (the reason says how many rows it
holds; `hexo-pipeline convert --partial` shows it): only whole files land.

Added columns on every activity table (beside the decoders' own): `subject_username` (null for inbox
files of unknown subject; not `subject`, which the hive partition column would shadow), `source_kind`
('range_export' | 'inbox' | 'convert'), `range_id`, `file_path` (relative to the data root), `sha256`,
`format`, `decoder`, `received_at`; `activity_rr_intervals` adds `rr_plausible` (flagged, never dropped).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..decoders import ConvertedFile, DecodeError, convert_file
from ..decoders.fit_monitoring import with_interval_deltas
from ..hexoskin import HexoskinClient, HexoskinError, RateLimited, ServerError, TransportError
from ..lake import Lake, move_to_quarantine, storage
from ..lake.contract import ACTIVITY_FILES_SCHEMA, ACTIVITY_LAKE_SCHEMAS, MONITORING_DATASET, MONITORING_LAKE_SCHEMA
from ..lake.contract import ACTIVITY_LINEAGE_FIELDS as LINEAGE_FIELDS
from ..lake.quarantine import quarantined as all_quarantined  # noqa: F401 (defs import it from here)
from .lake_merge import lake_lock, merge_partition

RANGE_EXPORT = "range_export"
INBOX = "inbox"
CONVERT = "convert"
UNKNOWN_SUBJECT = "_inbox"

ACCEPT = {"tcx": "application/vnd.garmin.tcx+xml", "fit": "application/vnd.ant.fit"}
FILES_DATASET = "activity_files"
TABLE_DATASETS = {
    "activities": "activities",
    "laps": "activity_laps",
    "trackpoints": "activity_trackpoints",
    "rr_intervals": "activity_rr_intervals",
}
DATASETS = (FILES_DATASET, *TABLE_DATASETS.values())
# Monitoring FIT files (all-day heart rate, steps) come through the inbox and `convert`, never from a range.
INBOX_DATASETS = (*DATASETS, MONITORING_DATASET)

# Plausible RR for humans at rest or exercising: 24..240 bpm. Outside it, rows are kept and flagged.
RR_PLAUSIBLE_S = (0.25, 2.5)
# Names that are copies in progress or hidden files; never ingested.
_SKIP_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", "~")

LAKE_SCHEMAS: dict[str, pa.Schema] = {
    **ACTIVITY_LAKE_SCHEMAS,
    FILES_DATASET: ACTIVITY_FILES_SCHEMA,
    MONITORING_DATASET: MONITORING_LAKE_SCHEMA,
}
SORT_KEYS = [("file_path", "ascending")]  # stable: a file's rows keep the decoder's order


# ------------------------------------------------------------------------------------------ outcomes
@dataclass
class FileOutcome:
    """What happened to one file: landed, unchanged, quarantined, failed (download), duplicate, pending."""

    file_path: str  # relative to the data root, where the file was found/written
    source_kind: str
    status: str
    subject: str | None = None  # known subject username, None if unknown
    range_id: int | None = None
    format: str | None = None
    sha256: str | None = None
    decoder: str | None = None
    fallback_reason: str | None = None
    partition: tuple[str, date] | None = None
    rows: dict[str, int] = field(default_factory=dict)
    reason: str | None = None
    code: str | None = None
    quarantined_to: Path | None = None
    decode_seconds: float | None = None

    def describe(self) -> str:
        where = f" -> {self.quarantined_to}" if self.quarantined_to else ""
        return f"{self.file_path}: {self.status}" + (f" [{self.code}] {self.reason}" if self.reason else "") + where


@dataclass
class IngestReport:
    outcomes: list[FileOutcome] = field(default_factory=list)
    partitions: dict[str, Counter] = field(default_factory=dict)  # dataset -> Counter(written/unchanged/...)
    seconds: float = 0.0

    def by_status(self, *statuses: str) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status in statuses]

    @property
    def quarantined(self) -> list[FileOutcome]:
        return self.by_status("quarantined")

    @property
    def failures(self) -> list[FileOutcome]:
        """Files that did not land for a reason someone must look at (quarantine, failed download)."""
        return self.by_status("quarantined", "failed")

    def rows(self) -> Counter:
        total: Counter = Counter()
        for o in self.by_status("landed"):
            total.update(o.rows)
        return total

    def extend(self, other: IngestReport) -> None:
        self.outcomes += other.outcomes
        for ds, c in other.partitions.items():
            self.partitions.setdefault(ds, Counter()).update(c)
        self.seconds += other.seconds


# ------------------------------------------------------------------------------------ conversion
def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def local_start_date(converted: ConvertedFile, tz: str | ZoneInfo) -> date | None:
    """Local date (in `tz`) of the file's first activity start, else of its first trackpoint."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    for table, column in (
        (converted.activities, "start_time"),
        (converted.trackpoints, "time"),
        (converted.laps, "start_time"),
        (converted.rr_intervals, "time"),
        (converted.monitoring, "timestamp"),
    ):
        first = pc.min(table.column(column)).as_py() if table.num_rows else None
        if first is not None:
            return first.astimezone(zone).date()
    return None


def lake_tables(
    converted: ConvertedFile,
    *,
    source_kind: str,
    file_path: str,
    received_at: datetime,
    subject: str | None = None,
    range_id: int | None = None,
) -> dict[str, pa.Table]:
    """The lake datasets of one converted file: its four tables with lineage columns, plus its
    `activity_files` row."""
    src = converted.source
    lineage = {
        "subject_username": subject,
        "source_kind": source_kind,
        "range_id": range_id,
        "file_path": file_path,
        "sha256": src.sha256,
        "format": src.format,
        "decoder": src.decoder,
        "received_at": received_at,
    }
    out: dict[str, pa.Table] = {}
    for name, dataset in {**TABLE_DATASETS, "monitoring": MONITORING_DATASET}.items():
        table = getattr(converted, name).replace_schema_metadata(None)
        n = table.num_rows
        for f in LINEAGE_FIELDS:
            table = table.append_column(f, pa.repeat(pa.scalar(lineage[f.name], f.type), n))
        if name == "rr_intervals":
            rr = table.column("rr_s")
            lo, hi = RR_PLAUSIBLE_S
            plausible = pc.and_(pc.greater_equal(rr, lo), pc.less_equal(rr, hi))
            table = table.append_column(pa.field("rr_plausible", pa.bool_()), plausible)
        out[dataset] = table.cast(LAKE_SCHEMAS[dataset])
    starts = converted.activities.column("start_time")
    out[FILES_DATASET] = pa.Table.from_pylist(
        [
            {
                "file_path": file_path,
                "source_kind": source_kind,
                "range_id": range_id,
                "subject_username": subject,
                "sha256": src.sha256,
                "size_bytes": src.size_bytes,
                "format": src.format,
                "compression": src.compression,
                "decoder": src.decoder,
                "decoder_version": src.decoder_version,
                "fallback_reason": src.fallback_reason,
                "manufacturer": src.manufacturer,
                "device": src.device,
                "serial_number": src.serial_number,
                "crc_ok": src.crc_ok,
                "partial": src.partial,
                "warnings": " | ".join(src.warnings) or None,
                "decode_seconds": src.decode_seconds,
                "activity_start": pc.min(starts).as_py() if len(starts) else None,
                "n_activities": converted.activities.num_rows,
                "n_laps": converted.laps.num_rows,
                "n_trackpoints": converted.trackpoints.num_rows,
                "n_rr_intervals": converted.rr_intervals.num_rows,
                "received_at": received_at,
                "n_monitoring": converted.monitoring.num_rows or None,
                "monitoring_end": pc.max(converted.monitoring.column("timestamp")).as_py()
                if converted.monitoring.num_rows
                else None,
            }
        ],
        schema=ACTIVITY_FILES_SCHEMA,
    )
    return out


def decode_or_quarantine(
    path: Path,
    outcome: FileOutcome,
    *,
    data_root: Path,
    quarantine_relative: str,
) -> ConvertedFile | None:
    """convert_file, or move the file to quarantine with its reason (filled into `outcome`)."""
    try:
        converted = convert_file(path)
    except DecodeError as exc:
        salvage = ""
        if exc.partial is not None:
            p = exc.partial
            salvage = (
                f" A partial decode holds {p.trackpoints.num_rows} trackpoints, {p.laps.num_rows} laps, "
                f"{p.rr_intervals.num_rows} RR intervals (see `hexo-pipeline convert --partial`)."
            )
        _quarantine(path, outcome, exc.code, exc.reason + salvage, data_root, quarantine_relative)
        return None
    outcome.format, outcome.sha256 = converted.source.format, converted.source.sha256
    outcome.decoder, outcome.fallback_reason = converted.source.decoder, converted.source.fallback_reason
    outcome.decode_seconds = converted.source.decode_seconds
    return converted


def _quarantine(path: Path, outcome: FileOutcome, code: str, reason: str, data_root: Path, relative: str) -> None:
    sha = outcome.sha256 or sha256_of(path)
    text = (
        f"{code}: {reason}\nsource: {outcome.file_path}\nsha256: {sha}\nquarantined_at: {datetime.now(UTC).isoformat()}"
    )
    outcome.status, outcome.code, outcome.reason, outcome.sha256 = "quarantined", code, reason, sha
    outcome.quarantined_to = move_to_quarantine(data_root, path, text, relative=relative)


# ---------------------------------------------------------------------------------- range exports
def download_range_export(
    client: HexoskinClient, range_id: int, fmt: str, dest: Path, chunk_size: int = 1 << 20, staging: Path | None = None
) -> Path:
    """GET /api/range/<id>/ as TCX or FIT, streamed (never whole in memory) to a hidden temp file in
    `staging` (default: beside `dest`) and fsynced; returns the temp file. The caller decodes it, then
    `install`s it over `dest` or quarantines it, so a bad download never replaces a good export."""
    # client.download retries bodies cut short, checks Content-Length and leaves nothing on failure.
    tmp = (staging or dest.parent) / f".{dest.name}.{secrets.token_hex(6)}.part"
    return client.download(f"range/{range_id}/", tmp, headers={"Accept": ACCEPT[fmt]}, chunk_size=chunk_size)


def install(tmp: Path, dest: Path, sha256: str) -> bool:
    """Move `tmp` over `dest` (a rename, or one upload to object storage: atomic); when `dest` already
    holds these bytes, drop `tmp` instead so `dest` keeps its mtime. Returns whether `dest` changed."""
    if dest.exists() and storage.file_facts(dest).sha256 == sha256:
        tmp.unlink()
        return False
    storage.move_file(tmp, dest)
    return True


def ranges_starting_on(ranges: pa.Table | None, day: date, tz: str | ZoneInfo) -> list[dict]:
    """Top-level (rank 0) ranges of a `ranges` partition that START on `day` (local): each range is
    converted once, in the subject-day of its start."""
    if ranges is None or ranges.num_rows == 0:
        return []
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return [r for r in ranges.to_pylist() if (r["rank"] or 0) == 0 and r["start_at"].astimezone(zone).date() == day]


def ingest_range_exports(
    client: HexoskinClient,
    ranges: pa.Table | None,
    *,
    subject: str,
    day: date,
    tz: str | ZoneInfo,
    data_root: str | os.PathLike[str],
    received_at: datetime | None = None,
    formats: Iterable[str] = ("tcx", "fit"),
) -> IngestReport:
    """Download, keep and convert the TCX and FIT exports of the subject-day's ranges; replace the
    range-export rows of the subject-day's partitions (inbox rows there are kept).

    HTTP 4xx answers are reported as failed, undecodable downloads are quarantined; in both cases the
    export kept from an earlier run (if any) still lands. Transport errors and 5xx after the client's
    retries raise, so the run fails (and Dagster retries) before the lake is touched.
    """
    started = time.perf_counter()
    root = Path(data_root).resolve()
    received_at = received_at or datetime.now(UTC)
    partition = f"subject={subject}/date={day.isoformat()}"
    folder = storage.beside_lake("exports", root) / f"subject={subject}" / f"date={day.isoformat()}"
    report = IngestReport()
    landed: list[dict[str, pa.Table]] = []
    wanted: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="hexo-exports-") as scratch:
        # A download is staged beside its export on the local disk (then renamed), else in a temp folder.
        staging = Path(scratch) if storage.is_remote(folder) else folder
        for rg in ranges_starting_on(ranges, day, tz):
            range_id = int(rg["range_id"])
            for fmt in formats:
                dest = folder / f"range_{range_id}.{fmt}"
                wanted.add(dest.name)
                outcome = FileOutcome(
                    # the same lineage wherever the exports are stored
                    file_path=f"exports/{partition}/{dest.name}",
                    source_kind=RANGE_EXPORT,
                    status="landed",
                    subject=subject,
                    range_id=range_id,
                    format=fmt,
                    partition=(subject, day),
                )
                report.outcomes.append(outcome)
                converted = _fetch_export(client, range_id, fmt, dest, staging, outcome, root, partition)
                if converted is None:
                    continue
                tables = lake_tables(
                    converted,
                    source_kind=RANGE_EXPORT,
                    file_path=outcome.file_path,
                    received_at=received_at,
                    subject=subject,
                    range_id=range_id,
                )
                outcome.rows = {ds: t.num_rows for ds, t in tables.items()}
                landed.append(tables)
    for kept in storage.list_files(folder):  # ranges deleted upstream: their kept exports go too (rows below)
        if "/" not in kept.relative and kept.relative.startswith("range_") and kept.relative not in wanted:
            storage.remove(kept.path)
    lake = Lake.in_data_dir(root)
    with lake_lock(root):
        for dataset in DATASETS:
            new = _concat(dataset, [t[dataset] for t in landed])
            status = merge_partition(
                lake,
                dataset,
                subject,
                day,
                new,
                lambda existing: pc.equal(existing.column("source_kind"), RANGE_EXPORT).to_numpy(zero_copy_only=False),
                sort_by=SORT_KEYS,
            )
            report.partitions.setdefault(dataset, Counter())[status] += 1
    if report.partitions[FILES_DATASET]["written"] == 0:
        for o in report.by_status("landed"):
            o.status = "unchanged"
    report.seconds = time.perf_counter() - started
    return report


def _fetch_export(
    client: HexoskinClient,
    range_id: int,
    fmt: str,
    dest: Path,
    staging: Path,
    outcome: FileOutcome,
    root: Path,
    partition: str,
) -> ConvertedFile | None:
    """One range export: downloaded, decoded and kept at `dest`; or quarantined / failed, and then the
    export kept from an earlier run (None when there is none)."""
    try:
        tmp = download_range_export(client, range_id, fmt, dest, staging=staging)
    except (TransportError, ServerError, RateLimited):
        raise
    except HexoskinError as exc:
        outcome.status, outcome.code, outcome.reason = "failed", f"http_{exc.status}", str(exc)
        tmp = None
    converted = (
        None
        if tmp is None
        else decode_or_quarantine(
            tmp, outcome, data_root=root, quarantine_relative=f"range_exports/{partition}/{dest.name}"
        )
    )
    if converted is None:
        return _previous_export(dest, outcome)
    install(tmp, dest, converted.source.sha256)
    return converted


def _previous_export(dest: Path, outcome: FileOutcome) -> ConvertedFile | None:
    """After a failed or bad download, the export kept from an earlier run (if any) still lands: a glitch
    upstream must not erase good data. The outcome keeps its failed status (the failure is reported)."""
    if not dest.exists():
        return None
    try:
        with storage.local_copy(dest) as local:
            previous = convert_file(local)
    except DecodeError:
        return None
    outcome.reason = f"{outcome.reason} (the previous export, sha256 {previous.source.sha256[:12]}, is kept)"
    return previous


# ------------------------------------------------------------------------------------------- inbox
@dataclass(frozen=True)
class InboxFile:
    path: Path
    relative: str  # inside the inbox, POSIX
    subject: str | None  # from inbox/<subject>/..., None at the top level
    size: int
    mtime_ns: int


def is_safe_key(key: str) -> bool:
    """The partition-key alphabet `Lake` accepts (folder names and Dagster keys)."""
    return bool(key) and key not in (".", "..") and not any(c in key for c in "/\\|,[]= ")


def list_inbox(
    inbox: Path,
    *,
    settle_s: float = 0.0,
    now: float | None = None,
) -> tuple[list[InboxFile], list[InboxFile]]:
    """(ready, pending) files of the inbox, sorted by path. Hidden files and partial-copy names are
    ignored; files modified less than `settle_s` ago are pending (a copy may still be under way)."""
    if not inbox.is_dir():
        return [], []
    now = time.time() if now is None else now
    ready, pending = [], []
    for path in sorted(p for p in inbox.rglob("*") if p.is_file()):
        rel = path.relative_to(inbox)
        if any(part.startswith(".") for part in rel.parts) or path.name.endswith(_SKIP_SUFFIXES):
            continue
        st = path.stat()
        folder = rel.parts[0] if len(rel.parts) > 1 else None
        f = InboxFile(path, rel.as_posix(), folder, st.st_size, st.st_mtime_ns)
        (pending if now - st.st_mtime_ns / 1e9 < settle_s else ready).append(f)
    return ready, pending


def inbox_fingerprint(files: Iterable[InboxFile]) -> str:
    """A cursor for the sensor: changes when any ready file appears, disappears or changes."""
    h = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.relative):
        h.update(f"{f.relative}\0{f.size}\0{f.mtime_ns}\n".encode())
    return h.hexdigest()


def inbox_manifest(lake: Lake, tz: str | ZoneInfo = "UTC") -> dict[str, tuple[str, str, list[date]]]:
    """Inbox files already in the lake: file_path -> (sha256, partition subject, partition dates): the
    file's own partition, then the later days its monitoring rows reach (`monitoring_end`, in `tz`)."""
    base = lake.root / FILES_DATASET
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    out: dict[str, tuple[str, str, list[date]]] = {}
    for part in sorted(base.glob("subject=*/date=*/part-0.parquet")):
        subject = part.parent.parent.name.split("=", 1)[1]
        day = date.fromisoformat(part.parent.name.split("=", 1)[1])
        t = lake.read_file(part)  # one row per file; files written before monitoring_end lack it
        ends = t.column("monitoring_end").to_pylist() if "monitoring_end" in t.column_names else [None] * t.num_rows
        for fp, sha, kind, end in zip(*(t.column(c).to_pylist() for c in ("file_path", "sha256", "source_kind")), ends):
            if kind == INBOX:
                out[fp] = (sha, subject, _days(day, end.astimezone(zone).date() if end else day))
    return out


def _days(first: date, last: date) -> list[date]:
    return [date.fromordinal(o) for o in range(first.toordinal(), max(first, last).toordinal() + 1)]


def split_by_local_day(table: pa.Table, column: str, tz: str | ZoneInfo) -> dict[date, pa.Table]:
    """Rows of `table` grouped by the local date (in `tz`) of `column`."""
    if table.num_rows == 0:
        return {}
    ts = table.column(column).cast(pa.int64()).to_numpy(zero_copy_only=False)
    local = pd.to_datetime(ts, unit="us", utc=True).tz_convert(str(tz)).tz_localize(None)
    days = local.as_unit("s").asi8 // 86_400
    return {
        date.fromordinal(date(1970, 1, 1).toordinal() + int(d)): table.filter(pa.array(days == d))
        for d in np.unique(days)
    }


def ingest_inbox(
    data_root: str | os.PathLike[str],
    *,
    tz: str | ZoneInfo,
    received_at: datetime | None = None,
    settle_s: float = 0.0,
    reprocess: bool = False,
) -> IngestReport:
    """Convert new or changed inbox files into the lake; quarantine the undecodable ones.

    A file is identified by its path in the inbox: unchanged bytes (sha256) are skipped, changed bytes
    replace the file's rows. A file whose bytes are already in the lake under a path that still exists
    is a duplicate (reported, not landed twice); if that path is gone, the file was moved: its rows
    follow it. Rows of a file that disappears from the inbox are kept (tidying the inbox never
    deletes data), and so are those of an earlier version of a file whose new version is quarantined.
    """
    started = time.perf_counter()
    root = Path(data_root).resolve()
    inbox = root / "inbox"
    received_at = received_at or datetime.now(UTC)
    lake = Lake.in_data_dir(root)
    report = IngestReport()
    ready, pending = list_inbox(inbox, settle_s=settle_s)
    for f in pending:
        report.outcomes.append(
            FileOutcome(
                file_path=f"inbox/{f.relative}",
                source_kind=INBOX,
                status="pending",
                reason=f"modified less than {settle_s:g} s ago",
            )
        )
    with lake_lock(root):
        manifest = inbox_manifest(lake, tz)
        present = {f"inbox/{f.relative}" for f in ready}
        by_sha = {sha: fp for fp, (sha, _, _) in manifest.items()}
        landed: list[tuple[tuple[str, date], dict[str, pa.Table]]] = []
        replaced_paths: dict[tuple[str, date], set[str]] = {}
        for f in ready:
            file_path = f"inbox/{f.relative}"
            subject = f.subject if f.subject and is_safe_key(f.subject) else None
            outcome = FileOutcome(file_path=file_path, source_kind=INBOX, status="landed", subject=subject)
            report.outcomes.append(outcome)
            if f.subject and subject is None:
                outcome.reason = f"folder name {f.subject!r} is not a usable subject key: subject unknown"
            sha = sha256_of(f.path)
            outcome.sha256 = sha
            known = manifest.get(file_path)
            if known and known[0] == sha and not reprocess:
                outcome.status, outcome.partition = "unchanged", (known[1], known[2][0])
                continue
            other = by_sha.get(sha)
            if other and other != file_path and other in present:
                outcome.status, outcome.reason = "duplicate", f"same bytes as {other}, already in the lake"
                continue
            converted = decode_or_quarantine(f.path, outcome, data_root=root, quarantine_relative=f"inbox/{f.relative}")
            if converted is None:
                continue
            day = local_start_date(converted, tz)
            if day is None:
                _quarantine(
                    f.path,
                    outcome,
                    "no_data",
                    "no timestamp in the file: no date to file it under",
                    root,
                    f"inbox/{f.relative}",
                )
                continue
            key = (subject or UNKNOWN_SUBJECT, day)
            outcome.partition = key
            tables = lake_tables(
                converted, source_kind=INBOX, file_path=file_path, received_at=received_at, subject=subject
            )
            outcome.rows = {ds: t.num_rows for ds, t in tables.items()}
            # monitoring rows go to the subject-day of each row (an all-day file may cross midnight)
            for mon_day, rows in split_by_local_day(tables.pop(MONITORING_DATASET), "timestamp", tz).items():
                landed.append(((key[0], mon_day), {MONITORING_DATASET: rows}))
                replaced_paths.setdefault((key[0], mon_day), set()).add(file_path)
            landed.append((key, tables))
            present.add(file_path)
            by_sha[sha] = file_path  # a second copy in this run is a duplicate
            replaced_paths.setdefault(key, set()).add(file_path)
            for old_path in {file_path, other} - {None}:  # earlier version, or where a moved file was
                if old_path in manifest:
                    _, s, days = manifest[old_path]
                    for d in days:
                        replaced_paths.setdefault((s, d), set()).add(old_path)
        for (subject_key, day), paths in sorted(replaced_paths.items()):
            values = pa.array(sorted(paths), pa.string())
            for dataset in INBOX_DATASETS:
                new = _concat(dataset, [t[dataset] for k, t in landed if k == (subject_key, day) and dataset in t])
                status = merge_partition(
                    lake,
                    dataset,
                    subject_key,
                    day,
                    new,
                    lambda existing: pc.and_(
                        pc.equal(existing.column("source_kind"), INBOX),
                        pc.is_in(existing.column("file_path"), value_set=values),
                    ).to_numpy(zero_copy_only=False),
                    sort_by=SORT_KEYS,
                    # counters are cumulative across the day's files: deltas over the merged day
                    finish=(lambda rows: with_interval_deltas(rows, tz)) if dataset == MONITORING_DATASET else None,
                )
                report.partitions.setdefault(dataset, Counter())[status] += 1
    report.seconds = time.perf_counter() - started
    return report


def _concat(dataset: str, tables: list[pa.Table]) -> pa.Table | None:
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return None
    return pa.concat_tables(tables).cast(LAKE_SCHEMAS[dataset])
