"""One subject-day of signals, from the API to the lake, in bounded memory (no Dagster here).

`ingest_subject_day_signals` downloads each record's binary zip (streamed to a temp file), decodes it
one channel at a time (`open_exports`), clips it to the day and the record, and appends it in slices
to one staged Parquet file per family (`StagedParquetFile`: a row group per slice, temp file beside
the partition's file). The summary datasets (`summaries.py`) are computed per record as it streams.
Only when every record has been read are the staged files moved over the partition's files (and
families without rows removed), so a failure leaves the previous files of the subject-day intact.

One record's download never blocks the others: a zip the decoders refuse (damaged, or a bomb:
decoders/hexoskin_export.py, Bounds) is quarantined with its reason, the day is staged again without it
(from the zips already downloaded) and that record keeps the rows the partition held for it before,
so nothing stored is lost; the good records land, then SignalDownloadError names the quarantined ones.

Memory does not grow with the length of the day: at most one channel's raw samples (2 bytes each) and
one slice of rows (ROW_GROUP_ROWS) are held, plus the 1 Hz / event channels of one record for the
summaries. Row groups never span two records or two channels out of order, so each is sorted by
(datatype_id, ts), as the footer's sorting_columns say; the file is ordered by record, then channel.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..decoders import DecodeError
from ..decoders.hexoskin_binary import ns_timestamps
from ..decoders.hexoskin_export import DecodedChannel, RecordStream, open_exports
from ..decoders.parquet import SIGNAL_LINEAGE_PARQUET_OPTIONS, StagedParquetFile, remove_stale_staged
from ..decoders.schemas import SIGNAL_SCHEMA
from ..hexoskin import HexoskinClient
from ..hexoskin.datatypes import BY_ID, Family
from ..hexoskin.timestamps import TICKS_PER_SECOND
from ..lake import SIGNAL_DATASETS, Lake
from ..lake.quarantine import quarantine_file
from ..lake.store import prune_empty
from .subject_day import NS_PER_TICK, SIGNAL_DATATYPES, TS, DayWindow, SignalDownloadError
from .summaries import SUMMARY_INPUT_IDS, concat_summaries, summarize_signals, write_summaries

ROW_GROUP_ROWS = 1 << 20  # rows per slice / row group (pyarrow's default row group size)
WRITER_THREADS = 2  # Parquet encoders working beside the decoding thread
LAKE_SIGNAL_SCHEMA = pa.schema(list(SIGNAL_SCHEMA) + [pa.field("record_id", pa.int64()), pa.field("received_at", TS)])
# Allowed difference between expected and stored samples per channel and record: the first/last sample
# of a clipped window may fall on either side of the boundary.
COUNT_TOLERANCE = 2
CHECK_NAMES = (
    "row_counts_match_durations",
    "no_duplicate_timestamps",
    "timestamps_inside_day",
    "quality_flag_coverage",
)


@dataclass
class SignalDayResult:
    """What one subject-day's ingestion wrote, and the figures its checks need."""

    rows: Counter = field(default_factory=Counter)  # dataset -> rows written
    samples: dict[int, Counter] = field(default_factory=dict)  # record_id -> datatype_id -> rows
    duplicates: Counter = field(default_factory=Counter)  # family -> repeated (channel, ts)
    outside: Counter = field(default_factory=Counter)  # family -> rows outside the day
    overlaps: list[str] = field(default_factory=list)  # records sharing a channel's time span

    def problems(self, key: str, records: pa.Table, window: DayWindow) -> dict[str, list[str]]:
        """The subject-day's findings per check (CHECK_NAMES), as one-line messages."""
        found: dict[str, list[str]] = {name: [] for name in CHECK_NAMES}
        for family, n in self.duplicates.items():
            if n:
                found["no_duplicate_timestamps"].append(f"{key} {family.value}: {n} duplicate timestamps")
        found["no_duplicate_timestamps"] += [f"{key} {o}" for o in self.overlaps]
        for family, n in self.outside.items():
            if n:
                found["timestamps_inside_day"].append(f"{key} {family.value}: {n} samples outside the day")
        for rec in records.to_pylist():
            seconds = (min(rec["end_ticks"], window.end) - max(rec["start_ticks"], window.start)) / TICKS_PER_SECOND
            for dt_id, n in sorted(self.samples.get(rec["record_id"], {}).items()):
                dt = BY_ID.get(dt_id)
                if dt is None or not dt.synchronous or dt.rate_hz < 1:
                    continue
                expected = seconds * dt.rate_hz
                if abs(n - expected) > COUNT_TOLERANCE + 1e-9:
                    found["row_counts_match_durations"].append(
                        f"{key} record {rec['record_id']} {dt.name}: {n} samples, expected {expected:.0f}"
                    )
        per_channel: Counter = Counter()
        for counts in self.samples.values():
            per_channel.update(counts)
        for channel, quality in ((19, 1000), (33, 1001)):
            if per_channel[channel] != per_channel[quality]:
                found["quality_flag_coverage"].append(
                    f"{key}: {per_channel[channel]} samples of {channel} but {per_channel[quality]} flags ({quality})"
                )
        return found


def ingest_subject_day_signals(
    api: HexoskinClient,
    lake: Lake,
    subject: str,
    window: DayWindow,
    records: pa.Table,
    received_at: datetime,
    quarantine_dir: Path,
) -> SignalDayResult:
    """Download, decode, clip and write one subject-day's signals and their summaries (module doc).

    A record whose download cannot be decoded is quarantined and keeps its previously stored rows; the
    other records land, then SignalDownloadError (naming every quarantined record) is raised. A failure
    to write (disk full...) replaces nothing of the subject-day.
    """
    refused: dict[int, SignalDownloadError] = {}
    with tempfile.TemporaryDirectory(prefix="hexo-signals-") as tmp:
        while True:  # once, or once more per refused record (rare): each pass stages the whole day
            result = SignalDayResult()
            writer = DayWriter(lake, subject, window, received_at, result)
            try:
                for rec in records.to_pylist():
                    record_id = rec["record_id"]
                    if record_id in refused:
                        writer.keep_stored(record_id)
                        continue
                    zip_path = Path(tmp) / f"record_{record_id}.zip"
                    if not zip_path.exists():
                        a = max(rec["start_ticks"], window.start) - TICKS_PER_SECOND
                        b = min(rec["end_ticks"], window.end) + TICKS_PER_SECOND
                        api.download_data(zip_path, SIGNAL_DATATYPES, record=record_id, start=a, end=b)
                    try:
                        writer.add_record(zip_path, rec)
                    except _WriteError as exc:  # the lake, not the download, failed (disk full...)
                        raise exc.__cause__ from None
                    except (DecodeError, zipfile.BadZipFile, OSError, ValueError) as exc:
                        refused[record_id] = _quarantine(zip_path, record_id, exc, quarantine_dir)
                        raise _Restage() from exc
                writer.commit()
                break
            except _Restage:
                writer.abort()
            except BaseException:
                writer.abort()
                raise
    if refused:
        first = next(iter(refused.values()))
        others = [str(e) for e in list(refused.values())[1:]]
        reason = first.reason + "".join(f"; also {o}" for o in others)
        raise SignalDownloadError(first.record_id, reason, first.quarantined)
    return result


class _Restage(Exception):
    """A record was refused and quarantined: stage the day again without it."""


def _quarantine(zip_path: Path, record_id: int, exc: Exception, quarantine_dir: Path) -> SignalDownloadError:
    code = f" [{exc.code}]" if isinstance(exc, DecodeError) else ""
    reason = f"{type(exc).__name__}{code}: {exc}"
    dest = quarantine_file(zip_path, quarantine_dir / zip_path.name, reason)
    return SignalDownloadError(record_id, reason, dest)


class _WriteError(Exception):
    """Writing the staged files failed: raised from the cause, never mistaken for a bad download."""


class DayWriter:
    """The staged files of one subject-day: one per signal family, plus the summaries in memory. Used by
    the signals asset (records from API zips) and by import-export (records from an export on disk).

    Parquet encoding (delta + zstd) is most of the CPU and releases the GIL, so row groups are encoded
    by a small thread pool while this thread decodes: the families of a record are read in turn, one
    slice each, and each family has at most one row group in flight (writes stay in order, memory
    stays bounded).
    """

    def __init__(
        self,
        lake: Lake,
        subject: str,
        window: DayWindow,
        received_at: datetime,
        result: SignalDayResult,
        threads: int = WRITER_THREADS,
        *,
        digests: bool = False,
    ):
        self.lake, self.subject, self.window, self.result = lake, subject, window, result
        # digests=True: a content digest of each family's staged rows (received_at aside), so `commit` can
        # leave a partition whose rows would not change untouched (import-export's "changes nothing")
        self.digests: dict[Family, _RowDigest] | None = {} if digests else None
        self.received_at = received_at
        self.received_us = int(pa.scalar(received_at, TS).value)
        self.staged: dict[Family, StagedParquetFile] = {}
        self.pending: dict[Family, Future] = {}
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="hexo-parquet")
        self.summaries: list[dict[str, pa.Table]] = []
        self.started = time.time()
        self.spans: dict[tuple[Family, int], list[tuple[int, int, int]]] = defaultdict(list)

    def add_record(self, zip_path: Path, rec: dict) -> None:
        # No channel may hold more than the record's duration allows: a lying or bombed zip is refused
        # before a sample is decoded. Generous (10% + a minute): a record still syncing may have grown
        # since its row was read; a bomb is orders of magnitude beyond.
        duration_s = (rec["end_ticks"] - rec["start_ticks"]) / TICKS_PER_SECOND * 1.1 + 60
        with open_exports(zip_path, duration_s=duration_s) as exports:
            self.add_exports(exports, rec)

    def add_exports(self, exports: list[RecordStream], rec: dict) -> None:
        """Stage the samples of an open export (the record `rec`: record_id, start_ticks, end_ticks),
        clipped to the day and the record, one channel per family at a time (module doc)."""
        record_id = int(rec["record_id"])
        lo = max(self.window.start_ns, rec["start_ticks"] * NS_PER_TICK)
        # A 1 Hz sample may sit exactly at the record end ((k+1)/fs); samples past it are padding.
        hi = min(self.window.end_ns, rec["end_ticks"] * NS_PER_TICK + 1)
        lineage = _Lineage(record_id, self.received_us)
        summary_rows: dict[Family, list[tuple[int, np.ndarray, np.ndarray]]] = defaultdict(list)
        for export in exports:
            streams = {
                family: self._slices(family, channels, lo, hi, record_id, summary_rows[family])
                for family, channels in export.channels_by_family().items()
            }
            buffers = {family: _RowGroupBuffer() for family in streams}
            while streams:  # one slice of each family in turn
                for family in list(streams):
                    item = next(streams[family], None)
                    if item is None:
                        del streams[family]
                        self._flush(family, buffers[family], lineage)
                    elif buffers[family].add(*item) >= ROW_GROUP_ROWS:
                        self._flush(family, buffers[family], lineage)
        tables = {family: _long_table(parts, record_id) for family, parts in summary_rows.items() if parts}
        self.summaries.append(summarize_signals(tables, self.received_at))

    def keep_stored(self, record_id: int, families: Iterable[Family] | None = None) -> None:
        """Stage the rows the partition already holds for a record whose new download was refused, with
        their own received_at, and its summaries from them: a refused download never loses stored data.
        Read one row group at a time (a row group never spans two records in files written here)."""
        summary_rows: dict[Family, list[pa.Table]] = defaultdict(list)
        counts = self.result.samples.setdefault(record_id, Counter())
        wanted = set(SIGNAL_DATASETS if families is None else families)
        for family, dataset in SIGNAL_DATASETS.items():
            if family not in wanted:
                continue
            path = self.lake.partition_file(dataset, self.subject, self.window.day)
            if not path.exists():
                continue
            with path.open("rb") as fh:  # a local file or an object of the lake's store
                stored = pq.ParquetFile(fh)
                groups = (stored.read_row_group(i) for i in range(stored.metadata.num_row_groups))
                self._restage_groups(family, groups, record_id, counts, summary_rows)
        tables = {family: pa.concat_tables(parts) for family, parts in summary_rows.items()}
        if any(t.num_rows for t in tables.values()):
            self.summaries.append(summarize_signals(tables))  # received_at: the stored rows'

    def _restage_groups(
        self, family: Family, groups: Iterator[pa.Table], record_id: int, counts: Counter, summary_rows: dict
    ) -> None:
        for group in groups:
            rows = group.filter(pc.equal(group.column("record_id"), record_id)).cast(LAKE_SIGNAL_SCHEMA)
            if not rows.num_rows:
                continue
            self._stage_table(family, rows)
            ids, n = np.unique(rows.column("datatype_id").to_numpy(), return_counts=True)
            counts.update(dict(zip(ids.tolist(), n.tolist())))
            wanted = SUMMARY_INPUT_IDS.get(family, ())
            if wanted:
                keep = pc.is_in(rows.column("datatype_id"), pa.array(sorted(wanted), pa.int32()))
                summary_rows[family].append(rows.filter(keep))

    def _stage_table(self, family: Family, table: pa.Table) -> None:
        """Write a ready row group (sorted by datatype_id, ts) to the family's staged file."""
        staged = self._staged(family)
        if self.digests is not None:
            self.digests.setdefault(family, _RowDigest()).add_table(table)
        self.pending[family] = self.pool.submit(staged.write, table)
        self.result.rows[SIGNAL_DATASETS[family]] += table.num_rows

    def _slices(
        self, family: Family, channels: Iterator[DecodedChannel], lo: int, hi: int, record_id: int, summary: list
    ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(datatype_id, ts, values) slices of a family's channels, clipped, with the checks' figures."""
        counts = self.result.samples.setdefault(record_id, Counter())
        for channel in channels:
            dt_id = channel.datatype_id
            keep_for_summary = dt_id in SUMMARY_INPUT_IDS.get(family, ())
            previous_last = first = None
            # Raw values as stored (int16 for WAV): widened to int64 by the encoding thread.
            for ts, values in channel.slices(ROW_GROUP_ROWS, lo, hi, widen=False):
                if not ts.size:
                    continue
                if channel.ts_ns is not None:  # events only: synchronous channels (k/fs) strictly increase
                    dups = int(np.count_nonzero(ts[1:] == ts[:-1])) + int(previous_last == ts[0])
                    self.result.duplicates[family] += dups
                self.result.outside[family] += int(np.searchsorted(ts, self.window.start_ns)) + int(
                    ts.size - np.searchsorted(ts, self.window.end_ns)
                )
                first = int(ts[0]) if first is None else first
                previous_last = int(ts[-1])
                counts[dt_id] += ts.size
                if keep_for_summary:
                    summary.append((dt_id, ts, values.astype(np.int64)))
                yield dt_id, ts, values
            if first is not None:
                self.spans[(family, dt_id)].append((first, previous_last, record_id))

    def _flush(self, family: Family, buffer: _RowGroupBuffer, lineage: _Lineage) -> None:
        parts, n = buffer.take()
        if not n:
            return
        staged = self._staged(family)
        if self.digests is not None:
            self.digests.setdefault(family, _RowDigest()).add_parts(parts, lineage.record_id)
        self.pending[family] = self.pool.submit(lambda: staged.write(_row_group(parts, n, lineage)))
        self.result.rows[SIGNAL_DATASETS[family]] += n

    def _staged(self, family: Family):
        """The family's staged file (opened on first use; local, or uploaded on commit), once the previous
        row group written to it is done."""
        self._wait(family)
        try:
            staged = self.staged.get(family)
            if staged is None:
                path = self.lake.partition_file(SIGNAL_DATASETS[family], self.subject, self.window.day)
                staged = self.staged[family] = self.lake.staged_file(
                    path, LAKE_SIGNAL_SCHEMA, **SIGNAL_LINEAGE_PARQUET_OPTIONS
                )
        except Exception as exc:
            raise _WriteError() from exc
        return staged

    def _wait(self, family: Family) -> None:
        future = self.pending.pop(family, None)
        if future is not None:
            try:
                future.result()
            except Exception as exc:
                raise _WriteError() from exc

    def commit(self, *, summaries: bool = True) -> dict[str, str]:
        """Move the staged files over the partition's (families without rows: removed) and write the
        summaries (summaries=False: the caller rebuilds them). With digests, a family whose rows equal
        the stored file's (received_at aside) keeps its file. Returns dataset -> written/unchanged/removed."""
        try:
            for family in list(self.pending):
                self._wait(family)
        except _WriteError as exc:
            raise exc.__cause__ from None
        self.pool.shutdown()
        self._find_overlaps()
        status: dict[str, str] = {}
        for family, dataset in SIGNAL_DATASETS.items():
            path = self.lake.partition_file(dataset, self.subject, self.window.day)
            if family in self.staged and self.digests is not None and self._same_as_stored(family, path):
                self.staged.pop(family).abort()
                status[dataset] = "unchanged"
            elif family in self.staged:
                status[dataset] = "written"
                staged = self.staged.pop(family)
                staged.commit()
                self.lake.record_partition_file(
                    dataset,
                    self.subject,
                    self.window.day,
                    staged.path,
                    rows=self.result.rows[dataset],
                    received_at=self.received_at,
                )
            else:
                status[dataset] = "removed" if path.exists() else "unchanged"
                self.lake.write_partition(dataset, self.subject, self.window.day, None)
            # A writer killed mid-day (SIGKILL, power loss) left its staged files: never read, only disk.
            # (On object storage files are staged in local temp files and uploaded whole: nothing to remove.)
            if not self.lake.is_remote:
                remove_stale_staged(self.lake.partition_file(dataset, self.subject, self.window.day), self.started)
        if summaries:
            tables = concat_summaries(self.summaries, self.received_at)
            write_summaries(self.lake, self.subject, self.window.day, tables)
            for name, table in tables.items():
                self.result.rows[name] += table.num_rows
        return status

    def _same_as_stored(self, family: Family, path) -> bool:
        """Whether the family's staged rows equal the stored file's, in order (received_at aside)."""
        staged = self.digests.get(family)
        if staged is None or not path.exists():
            return False
        stored = _RowDigest()
        with path.open("rb") as fh:  # a local file or an object of the lake's store
            parquet = pq.ParquetFile(fh)
            if parquet.metadata.num_rows != staged.rows:
                return False
            for batch in parquet.iter_batches(batch_size=ROW_GROUP_ROWS, columns=list(_RowDigest.COLUMNS)):
                stored.add_table(batch)
        return stored.hexdigest() == staged.hexdigest()

    def abort(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        for staged in self.staged.values():
            staged.abort()
            prune_empty(staged.path.parent, self.lake.root)
        self.staged.clear()

    def _find_overlaps(self) -> None:
        """Two records holding samples of one channel at overlapping times (duplicates across records
        can only come from there; inside a record they are counted exactly)."""
        for (family, dt_id), spans in sorted(self.spans.items(), key=lambda kv: (kv[0][0].value, kv[0][1])):
            spans = sorted(spans)
            for (_a0, a1, ra), (b0, _b1, rb) in zip(spans, spans[1:]):
                if b0 <= a1:
                    self.result.overlaps.append(f"{family.value}: records {ra} and {rb} overlap in channel {dt_id}")


class _RowDigest:
    """A digest of rows (ts, datatype_id, value, record_id) in order, whatever their row groups: one hash
    per column, fed with each slice's values in a fixed type."""

    COLUMNS = {"ts": np.int64, "datatype_id": np.int32, "value": np.int64, "record_id": np.int64}

    def __init__(self):
        self.hashes = {name: hashlib.sha256() for name in self.COLUMNS}
        self.rows = 0

    def _update(self, name: str, values: np.ndarray) -> None:
        self.hashes[name].update(np.ascontiguousarray(values, dtype=self.COLUMNS[name]).tobytes())

    def add_table(self, table: pa.Table | pa.RecordBatch) -> None:
        for name in self.COLUMNS:
            column = table.column(name)
            if name == "ts":
                column = column.cast(pa.int64())
            self._update(name, column.to_numpy(zero_copy_only=False))
        self.rows += table.num_rows

    def add_parts(self, parts: list[tuple[int, np.ndarray, np.ndarray]], record_id: int) -> None:
        for dt_id, ts, values in parts:
            self._update("ts", ts)
            self._update("datatype_id", np.full(ts.size, dt_id, dtype=np.int32))
            self._update("value", values)
            self._update("record_id", np.full(ts.size, record_id, dtype=np.int64))
            self.rows += ts.size

    def hexdigest(self) -> str:
        return "".join(h.hexdigest() for h in self.hashes.values())


class _Lineage:
    """record_id / received_at columns, built once per record and sliced (zero-copy) per row group."""

    def __init__(self, record_id: int, received_us: int):
        self.record_id = record_id
        self._record = pa.array(np.full(ROW_GROUP_ROWS, record_id, dtype=np.int64))
        self._received = pa.array(np.full(ROW_GROUP_ROWS, received_us, dtype=np.int64)).view(TS)

    def columns(self, n: int) -> tuple[pa.Array, pa.Array]:
        if n <= ROW_GROUP_ROWS:
            return self._record.slice(0, n), self._received.slice(0, n)
        return (
            pa.array(np.full(n, self.record_id, dtype=np.int64)),
            pa.array(np.full(n, self._received[0].value, dtype=np.int64)).view(TS),
        )


class _RowGroupBuffer:
    """Slices of one record and family, in channel order, until a row group's worth is collected."""

    def __init__(self):
        self.parts: list[tuple[int, np.ndarray, np.ndarray]] = []
        self.rows = 0

    def add(self, dt_id: int, ts: np.ndarray, values: np.ndarray) -> int:
        self.parts.append((dt_id, ts, values))
        self.rows += ts.size
        return self.rows

    def take(self) -> tuple[list[tuple[int, np.ndarray, np.ndarray]], int]:
        parts, n = self.parts, self.rows
        self.parts, self.rows = [], 0
        return parts, n


def _row_group(parts: list[tuple[int, np.ndarray, np.ndarray]], n: int, lineage: _Lineage) -> pa.Table:
    """One row group's table from its (datatype_id, ts, raw values) slices, in order."""
    if len(parts) == 1:
        dt_id, ts, values = parts[0]
        ids = pa.array(np.full(n, dt_id, dtype=np.int32))
        values = values.astype(np.int64)
    else:
        ts = np.concatenate([p[1] for p in parts])
        values = np.concatenate([p[2].astype(np.int64, copy=False) for p in parts])
        ids = pa.array(np.repeat(np.array([p[0] for p in parts], dtype=np.int32), [p[1].size for p in parts]))
    record_id, received_at = lineage.columns(n)
    return pa.Table.from_arrays(
        [ns_timestamps(ts), ids, pa.array(values), record_id, received_at], schema=LAKE_SIGNAL_SCHEMA
    )


def _long_table(parts: list[tuple[int, np.ndarray, np.ndarray]], record_id: int) -> pa.Table:
    """One record's rows of a few channels as a long table (the summaries' input)."""
    n = sum(p[1].size for p in parts)
    return pa.table(
        {
            "ts": ns_timestamps(np.concatenate([p[1] for p in parts])),
            "datatype_id": pa.array(
                np.repeat(np.array([p[0] for p in parts], dtype=np.int32), [p[1].size for p in parts])
            ),
            "value": pa.array(np.concatenate([p[2] for p in parts])),
            "record_id": pa.array(np.full(n, record_id, dtype=np.int64)),
        }
    )
