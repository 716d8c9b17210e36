"""Import a Hexoskin/Astroskin binary export (a zip or folder, as the dashboard or the API's binary
download produces) into the lake, so studies that already downloaded data can load it.

It writes what the Dagster assets write for a record: `signals_<family>` rows (ts, datatype_id, value
RAW, record_id, received_at), a `records` row and the summary datasets (`summaries.py`, recomputed for
the whole partition after the merge), in subject-day partitions of the local day (`tz`).
Rows are clipped exactly as the signals asset clips them: to [day start, day end) and to the record
(ts >= start, ts <= end), so a record crossing midnight lands in two partitions, each sample once.
Partitions are MERGED: the record's earlier rows are replaced (in the families the export carries, and
its `records` row), other records' rows are kept, and a merge that changes nothing writes nothing.

Memory does not grow with the record's length (a 24 h record is tens of millions of samples): the
export is streamed with the signals asset's own writer (`signals.DayWriter`: one channel per family and
one row group at a time, staged files moved over the partition's at the end). Per subject-day, the
records of the partition are staged in record-id order: the stored rows of the others (and of this
record, in families the export does not carry) one row group at a time, this record from the export.
A channel is read twice: once to measure the record (its end, the samples past it), once to write it.
Signal files are ordered by record, then channel, then time, as the signals asset writes them.

Record facts:
- id: info.json (`request` ...?record=<id> or `algo.record_id`), else statistics.csv (`uri` column),
  else the folder/zip name (`record_<id>`, `record-<id>`, `...record_<id>`);
- start: info.json (ticks; exact to the ns);
- end: start + the longest channel duration, measured at the best resolution the export offers:
  channels faster than 1 Hz give n / fs exactly; only when there are none do 1 Hz channels (n s, their
  last sample ends its second) and event channels (last event) count. On the real 129 s Astroskin
  export this gives 129 s (the vendor's statistics.csv says 129.0), where a 1 Hz channel holding one
  padding sample would have said 130 s; that sample lies past the end and is reported, not imported.
- user: info.json `user`; subject key: the caller's, default `user_<user>`.

Several exports in one run (`import_exports`, the CLI's `PATH...`; a folder of zips counts as its zips):
each file is imported or refused on its own. A file the decoders refuse (a damaged zip, a decompression
bomb: decoders/hexoskin_export.py, Bounds) is moved to `quarantine/import_export/` with its reason and
writes nothing; the others still land. The CLI prints one line per refused file and exits 1.
"""

from __future__ import annotations

import csv
import io
import os
import re
import sys
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import TextIO
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..decoders import DecodeError
from ..decoders.hexoskin_export import MAX_META_BYTES, SIGNAL_EXTENSIONS, DecodedChannel, RecordStream, open_exports
from ..hexoskin.datatypes import BY_ID
from ..hexoskin.timestamps import from_ticks
from ..lake import SIGNAL_DATASETS, Lake
from ..lake.quarantine import move_to_quarantine
from .activity_files import is_safe_key
from .lake_merge import lake_lock, merge_partition
from .signals import DayWriter, SignalDayResult
from .subject_day import NS_PER_TICK, DayWindow, records_table
from .summaries import rebuild_summaries

RECORD_SORT = [("start_ticks", "ascending"), ("record_id", "ascending")]
_RECORD_NAME = re.compile(r"record[_-]?(\d+)", re.IGNORECASE)
_RECORD_URI = re.compile(r"/record/(\d+)")


class ExportImportError(Exception):
    """The export cannot be imported as asked (no record id, no subject...): nothing was written."""


@dataclass
class RecordImport:
    record_id: int
    subject: str
    user_id: int | None
    start_at: datetime
    end_at: datetime
    duration_s: float
    days: list[date]
    rows: Counter = field(default_factory=Counter)  # dataset -> rows written for this record
    past_end: dict[str, int] = field(default_factory=dict)  # channel -> samples after the record end
    partitions: dict[tuple[str, date], str] = field(default_factory=dict)  # -> written/unchanged/removed
    warnings: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()


@dataclass
class ImportReport:
    source: str
    records: list[RecordImport]
    seconds: float

    @property
    def changed(self) -> bool:
        return any(s != "unchanged" for r in self.records for s in r.partitions.values())


@dataclass
class ExportOutcome:
    """One file of a multi-file import: its report, or why it was refused (and where it went)."""

    path: Path
    report: ImportReport | None = None
    error: str | None = None  # one line: `[code] reason`
    quarantined: Path | None = None


def default_timezone() -> str:
    """The study's time zone (HEXO_STUDY_TZ, else the study default): lake partitions are its days
    (docs/lake.md), as the Dagster assets write them and as the marts read them."""
    from ..study_settings import StudySettings

    return StudySettings.from_environment().timezone


def import_export(
    path: str | os.PathLike[str],
    *,
    data_dir: str | os.PathLike[str],
    subject: str | None = None,
    tz: str | None = None,
    received_at: datetime | None = None,
) -> ImportReport:
    """Import every record of the export at `path` (zip or folder); returns what was written."""
    started = time.perf_counter()
    source = Path(path)
    zone = ZoneInfo(tz or default_timezone())
    received_at = received_at or datetime.now(UTC)
    root = Path(data_dir).resolve()
    out = []
    with open_exports(source) as exports:  # DecodeError if it is not an export at all, or a bomb
        plans = [_plan(source, e, subject) for e in exports]  # every record resolved before any write
        measured = [_measure(e) for e in exports]  # decodes (one channel at a time) before any write
        lake = Lake.in_data_dir(root)
        with lake_lock(root):
            for export, (record_id, subject_key), shape in zip(exports, plans, measured):
                out.append(_import_record(lake, export, shape, record_id, subject_key, zone, received_at))
    return ImportReport(str(source), out, time.perf_counter() - started)


def expand_exports(paths: list[str | os.PathLike[str]]) -> list[Path]:
    """The exports named by `paths`: a zip, an export folder, or a folder holding zips (each one export)."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir() and not any(p.suffix.lower() in SIGNAL_EXTENSIONS for p in path.rglob("*") if p.is_file()):
            out += sorted(p for p in path.rglob("*.zip") if p.is_file())
        else:
            out.append(path)
    return out


def import_exports(
    paths: list[str | os.PathLike[str]],
    *,
    data_dir: str | os.PathLike[str],
    subject: str | None = None,
    tz: str | None = None,
    received_at: datetime | None = None,
) -> list[ExportOutcome]:
    """Import each export on its own (module doc): one outcome per file, in order; never raises for a
    file. Undecodable files are quarantined; a file that cannot be imported as asked (no record id, a
    bad subject key) is reported and left where it is."""
    root = Path(data_dir).resolve()
    received_at = received_at or datetime.now(UTC)
    outcomes = []
    for path in expand_exports(paths):
        outcome = ExportOutcome(path)
        try:
            outcome.report = import_export(path, data_dir=root, subject=subject, tz=tz, received_at=received_at)
        except DecodeError as exc:
            outcome.error = f"[{exc.code}] {' '.join(str(exc).split())}"
            outcome.quarantined = _quarantine(root, path, outcome.error)
        except ExportImportError as exc:
            outcome.error = f"[not imported] {exc}"
        except Exception as exc:  # noqa: BLE001 - one file's failure must not stop the others
            outcome.error = f"[{type(exc).__name__}] {' '.join(str(exc).split())[:300]}"
        outcomes.append(outcome)
    return outcomes


def _quarantine(root: Path, path: Path, reason: str) -> Path | None:
    """Move a refused export to quarantine/import_export/ (None if it cannot be moved, e.g. read-only)."""
    if not path.exists():
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    try:
        return move_to_quarantine(root, path, reason, relative=f"import_export/{stamp}-{path.name}")
    except OSError:
        return None


# ------------------------------------------------------------------------------------ record facts
def _plan(source: Path, export: RecordStream, subject: str | None) -> tuple[int, str]:
    record_id = export.info.record_id or _statistics_record_id(source, export.record_dir)
    if record_id is None:
        names = [PurePosixPath(export.record_dir).name] if export.record_dir else []
        names.append(source.stem if source.is_file() else source.name)
        for name in names:
            if m := _RECORD_NAME.search(name):
                record_id = int(m.group(1))
                break
    if record_id is None:
        raise ExportImportError(
            f"{source}:{export.record_dir or '/'}: no record id in info.json, statistics.csv "
            f"or the folder name (record_<id>)"
        )
    key = subject or (f"user_{export.info.user}" if export.info.user is not None else None)
    if key is None:
        raise ExportImportError(f"{source}: info.json names no user; pass --subject")
    if not is_safe_key(key):
        raise ExportImportError(f"subject key {key!r} cannot be a partition key (no / \\ | , [ ] = or spaces)")
    return int(record_id), key


def _statistics_record_id(source: Path, record_dir: str) -> int | None:
    """statistics.csv: rows of names, units, values; the `uri` value is /api/record/<id>/."""
    member = f"{record_dir}/statistics.csv" if record_dir else "statistics.csv"
    try:
        if source.is_dir():
            text = (source / member).read_text(encoding="utf-8-sig")
        else:
            with zipfile.ZipFile(source) as zf:
                infos = {i.filename.lower(): i for i in zf.infolist()}
                info = infos.get(member.lower())
                if info is None or info.file_size > MAX_META_BYTES:
                    return None
                text = zf.read(info).decode("utf-8-sig")
    except (OSError, KeyError, UnicodeDecodeError, zipfile.BadZipFile, EOFError, ValueError, RuntimeError):
        return None
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) >= 3 and "uri" in rows[0]:
        uri = rows[2][rows[0].index("uri")] if len(rows[2]) > rows[0].index("uri") else ""
        if m := _RECORD_URI.search(uri):
            return int(m.group(1))
    return None


@dataclass
class _Shape:
    """What a record's channels say before any row is written: their timing without their samples."""

    channels: list[DecodedChannel]  # synchronous: a zero-stride stand-in of their samples; events: times
    families: set

    def duration_ns(self, start_ns: int) -> int:
        return record_duration_ns([c.summary for c in self.channels], self.event_ends(), start_ns)

    def event_ends(self) -> list[int]:
        return [int(c.ts_ns[-1]) for c in self.channels if c.ts_ns is not None and c.ts_ns.size]


def _measure(export: RecordStream) -> _Shape:
    """Decode each channel once, one at a time, keeping its timing (module doc)."""
    kept = []
    for c in export.channels():
        n = len(c)
        stand_in = np.broadcast_to(np.zeros(1, dtype=c.values.dtype), (n,))  # no memory per sample
        kept.append(DecodedChannel(c.summary, stand_in, c.start_ns, c.ts_ns, c.at_period_end))
    return _Shape(kept, {c.family for c in kept})


def record_duration_ns(channels: list, event_ends_ns: list[int], start_ns: int) -> int:
    """Longest channel duration, at the best resolution available (module doc): `channels` are the
    ChannelSummary of the record's channels, `event_ends_ns` the last time of each event channel."""
    fast = [
        c.n_samples * 1_000_000_000 // int(c.rate_hz)
        for c in channels
        if c.rate_hz and c.rate_hz > 1 and float(c.rate_hz).is_integer()
    ]
    if fast:
        return max(fast)
    ends = [c.n_samples * round(1_000_000_000 / c.rate_hz) for c in channels if c.rate_hz]
    ends += [t - start_ns for t in event_ends_ns]
    return max(ends, default=0)


# ----------------------------------------------------------------------------------------- import
def _import_record(
    lake: Lake,
    export: RecordStream,
    shape: _Shape,
    record_id: int,
    subject: str,
    zone: ZoneInfo,
    received_at: datetime,
) -> RecordImport:
    start_ns = export.info.start_ns
    start_ticks = -(-start_ns // NS_PER_TICK) if start_ns % NS_PER_TICK else start_ns // NS_PER_TICK
    end_ticks = start_ticks + -(-shape.duration_ns(start_ns) // NS_PER_TICK)
    end_ns = end_ticks * NS_PER_TICK
    rec = {"id": record_id, "user": export.info.user, "start": start_ticks, "end": end_ticks}
    days = _local_days(start_ns, end_ns, zone)
    result = RecordImport(
        record_id=record_id,
        subject=subject,
        user_id=export.info.user,
        start_at=from_ticks(start_ticks),
        end_at=from_ticks(end_ticks),
        duration_s=(end_ns - start_ns) / 1e9,
        days=days,
        warnings=tuple(export.warnings),
        skipped=tuple(f"{s.member}: {s.kind}: {s.reason}" for s in export.skipped),
    )
    for c in shape.channels:
        late = len(c) - c.index_range(None, end_ns + 1)[1]
        if late:
            dt = BY_ID.get(c.datatype_id)
            result.past_end[dt.name if dt else str(c.datatype_id)] = late
    carried = {f for f in shape.families}
    staged_rec = {"record_id": record_id, "start_ticks": start_ticks, "end_ticks": end_ticks}
    for day in days:
        window = DayWindow.of(day, zone)
        records = records_table([rec], window, received_at)
        status = merge_partition(lake, "records", subject, day, records, _of_record(record_id), sort_by=RECORD_SORT)
        result.partitions[("records", day)] = status
        result.rows["records"] += 1
        writer = DayWriter(lake, subject, window, received_at, SignalDayResult(), digests=True)
        try:
            for rid in sorted(_stored_record_ids(lake, subject, day) | {record_id}):
                if rid != record_id:
                    writer.keep_stored(rid)
                    continue
                writer.keep_stored(rid, families=set(SIGNAL_DATASETS) - carried)  # families not in the export
                writer.add_exports([export], staged_rec)
            statuses = writer.commit(summaries=False)
        except BaseException:
            writer.abort()
            raise
        for family, n in _rows_by_family(writer.result.samples.get(record_id, {})).items():
            if family in carried:
                result.rows[SIGNAL_DATASETS[family]] += n
        for dataset, status in statuses.items():
            result.partitions[(dataset, day)] = status
        # The summaries cover every record of the partition: recomputed from the signal files as they are.
        for dataset, status in rebuild_summaries(lake, subject, day).items():
            result.partitions[(dataset, day)] = status
    return result


def _stored_record_ids(lake: Lake, subject: str, day: date) -> set[int]:
    """The records the day's signal files hold rows of (their record_id column, one row group at a time)."""
    ids: set[int] = set()
    for dataset in SIGNAL_DATASETS.values():
        path = lake.partition_file(dataset, subject, day)
        if not path.exists():
            continue
        with path.open("rb") as fh:
            parquet = pq.ParquetFile(fh)
            for i in range(parquet.metadata.num_row_groups):
                column = parquet.read_row_group(i, columns=["record_id"]).column("record_id")
                ids.update(np.unique(column.to_numpy(zero_copy_only=False)).tolist())
    return ids


def _rows_by_family(counts: Counter) -> Counter:
    out: Counter = Counter()
    for dt_id, n in counts.items():
        dt = BY_ID.get(dt_id)
        if dt is not None:
            out[dt.family] += n
    return out


def _of_record(record_id: int):
    return lambda existing: pc.equal(existing.column("record_id"), record_id).to_numpy(zero_copy_only=False)


def _local_days(start_ns: int, end_ns: int, zone: ZoneInfo) -> list[date]:
    first = _utc(start_ns).astimezone(zone).date()
    last = _utc(max(start_ns, end_ns - 1)).astimezone(zone).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _utc(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC) + timedelta(microseconds=(ns % 1_000_000_000) // 1000)


def summary_lines(report: ImportReport) -> list[str]:
    """Human-readable summary for the CLI."""
    lines = [f"{report.source}: {len(report.records)} record(s) in {report.seconds:.2f} s"]
    for r in report.records:
        statuses = Counter(r.partitions.values())
        lines.append(
            f"record {r.record_id} -> subject={r.subject}, {r.start_at.isoformat()} .. "
            f"{r.end_at.isoformat()} ({r.duration_s:g} s), days {', '.join(map(str, r.days))}"
        )
        lines.append("  rows: " + ", ".join(f"{ds} {n}" for ds, n in sorted(r.rows.items()) if n))
        lines.append("  partitions: " + ", ".join(f"{s} {n}" for s, n in sorted(statuses.items())))
        if r.past_end:
            lines.append(
                "  past the record end (padding, not imported): "
                + ", ".join(f"{k} {v}" for k, v in sorted(r.past_end.items()))
            )
        for s in r.skipped:
            lines.append(f"  skipped {s}")
        for w in r.warnings:
            lines.append(f"  warning: {w}")
    return lines


def run(
    paths: str | list[str],
    *,
    subject: str | None = None,
    tz: str | None = None,
    data_dir: str | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """`hexo-pipeline import-export PATH...`: 0 when every export was imported, 1 when any was not (one
    line each on stderr, naming where it was quarantined), 2 when there was nothing to import."""
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    from ..lake import data_dir as default_data_dir

    outcomes = import_exports(
        [paths] if isinstance(paths, str) else paths, data_dir=data_dir or default_data_dir(), subject=subject, tz=tz
    )
    if not outcomes:
        print("import-export: no exports to import", file=stderr)
        return 2
    for outcome in outcomes:
        if outcome.report is not None:
            print("\n".join(summary_lines(outcome.report)), file=stdout)
        else:
            where = f" (quarantined at {outcome.quarantined})" if outcome.quarantined else ""
            print(f"import-export: {outcome.path}: FAILED {outcome.error}{where}", file=stderr)
    failed = sum(o.report is None for o in outcomes)
    if len(outcomes) > 1:
        print(f"{len(outcomes) - failed} of {len(outcomes)} exports imported", file=stdout)
    if failed and len(outcomes) > 1:
        print(f"{failed} of {len(outcomes)} exports FAILED (reasons above)", file=stderr)
    return 1 if failed else 0


__all__ = [
    "ExportImportError",
    "ExportOutcome",
    "expand_exports",
    "import_exports",
    "ImportReport",
    "RecordImport",
    "default_timezone",
    "import_export",
    "record_duration_ns",
    "run",
    "summary_lines",
]
