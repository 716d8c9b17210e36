"""Read a whole Hexoskin/Astroskin binary export (zip file or folder) into one long table per family.

Layouts accepted: files at the top (`ECG_I.wav`, ...), one folder down (`record_37700/ECG_I.wav`), or two
(`User_<id>/record_<id>/...`, HxConvertSourceFile). Each folder holding signal files is one record, timed
by the info.json beside them. Zip members are streamed one at a time (zipfile.open), never extracted.

File name -> datatype, in this order of preference (hexoskin_api_notes.md §5.1):
1. the catalog name (`ECG_I`, `heart_rate`, ...); 2. a numeric stem (`4113.wav`, as load_hx_data accepts);
3. a known alias (`heartrate`, `breathingrate`, `temperature`, `minute_ventilation_cl`, `tidal_volume_ml`).
When two files resolve to one datatype, the better match is read and the other is reported as a
duplicate. That matters for `temperature.wav`: the vendor decoder maps it to 81 like
`temperature_celcius.wav`, but in the real 2017 Astroskin export both exist and hold DIFFERENT signals
(2273..4094 vs 3440..7913), so `temperature` is only used when `temperature_celcius` is absent.
Unknown files are reported in `skipped`, never fatal; so is a known file that fails to decode.

Output: `SignalExport.tables[Family]`, schema `SIGNAL_SCHEMA` (ts, datatype_id, value RAW), sorted by
(datatype_id, ts).

Bounds (hostile or damaged exports, issue 8): before any sample is decoded, every signal member is
measured from the zip directory or the file system and its header, never by reading it whole:
- a zip member larger than MAX_MEMBER_BYTES uncompressed, or compressing better than
  MAX_COMPRESSION_RATIO (zeros do ~1000:1; real signals 2-10:1), is refused (`too_large`);
- a WAV whose header declares more samples than its data chunk holds (beyond one second) is refused;
- each channel's sample count must fit the record's duration x its rate (+ DURATION_SLACK): the duration
  is the caller's (the API's record row) or else the lower median of the WAV channels' durations, at
  most MAX_RECORD_SECONDS; event channels (.hxd, CSV) at most MAX_EVENT_RATE_HZ over that duration.
A record breaking a bound is refused whole (DecodeError `too_large`, naming the member), so no row of a
bomb is ever decoded; a member that is merely undecodable is still skipped with its reason.
"""

from __future__ import annotations

import bisect
import math
import os
import re
import struct
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from hexo_pipeline.decoders import hexoskin_binary as hb
from hexo_pipeline.decoders.errors import DecodeError
from hexo_pipeline.decoders.schemas import SIGNAL_SCHEMA
from hexo_pipeline.hexoskin import datatypes as catalog
from hexo_pipeline.hexoskin.datatypes import Datatype, Family

SIGNAL_EXTENSIONS = (".wav", ".hxd", ".csv")
# Names used by older exports and by the vendor decoder for catalog datatypes (notes §5.1, S3, S5).
ALIASES: dict[str, int] = {
    "heartrate": 19,
    "breathingrate": 33,
    "temperature": 81,
    "minute_ventilation_cl": 38,
    "tidal_volume_ml": 39,
    "ecg": 4113,
}
NOT_SIGNALS = {"statistics.csv": "record statistics (metrics), not a signal"}
# Preference when several files give the same datatype: exact name > numeric stem > alias; wav > hxd > csv.
_MATCH_RANK = {"name": 0, "id": 1, "alias": 2}
_KIND_RANK = {"wav": 0, "hxd": 1, "csv": 2}

# Bounds (module doc). A 24 h ECG lead is 44 MB; a week-long record of it 310 MB.
MAX_MEMBER_BYTES = 512 * 2**20  # uncompressed size of one member
MAX_CSV_BYTES = 64 * 2**20  # an event CSV is parsed whole: a week of RR intervals is ~60 MB
MAX_META_BYTES = 2**20  # info.json, statistics.csv
MAX_MEMBERS = 10_000
MAX_COMPRESSION_RATIO = 100
RATIO_CHECK_MIN_BYTES = 16 * 2**20  # a small constant channel (quality flags) may compress far better
MAX_RECORD_SECONDS = 7 * 86_400  # longer than any garment's battery
MAX_EVENT_RATE_HZ = 10  # RR/PTT are at most 5/s (300 bpm); breaths, steps and positions slower
EVENT_SLACK = 64  # events allowed beyond rate x duration
DURATION_SLACK_S = 2.0  # seconds allowed beyond the duration (at least 1% of it)
WAV_SHORTFALL_S = 1.0  # a data chunk may end up to a second before its header says (a cut recording)


@dataclass(frozen=True)
class ChannelSummary:
    member: str
    datatype_id: int
    name: str
    family: Family
    kind: str  # wav | hxd | csv
    n_samples: int
    n_null_dropped: int = 0  # `nan` cells of event CSVs
    rate_hz: float | None = None


@dataclass(frozen=True)
class SkippedMember:
    member: str
    kind: str  # unknown | duplicate | not_signal | error
    reason: str


@dataclass(frozen=True)
class SignalExport:
    """One record of an export, decoded."""

    source: str  # the zip or folder path
    record_dir: str  # folder of the record inside it ('' at top level)
    info: hb.RecordInfo
    tables: dict[Family, pa.Table]
    channels: tuple[ChannelSummary, ...]
    skipped: tuple[SkippedMember, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def n_samples(self) -> int:
        return sum(t.num_rows for t in self.tables.values())

    @property
    def n_null_dropped(self) -> int:
        return sum(c.n_null_dropped for c in self.channels)

    @property
    def errors(self) -> tuple[SkippedMember, ...]:
        return tuple(s for s in self.skipped if s.kind == "error")

    def channel(self, name_or_id: str | int) -> ChannelSummary:
        for c in self.channels:
            if c.name == name_or_id or c.datatype_id == name_or_id:
                return c
        raise KeyError(name_or_id)


# ------------------------------------------------------------------------------------ containers
class _Container:
    """A zip or a folder, seen as POSIX relative member names with a streaming opener."""

    def __init__(self, path: Path):
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._sizes: dict[str, int] = {}
        if path.is_dir():
            self.members = sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
        elif zipfile.is_zipfile(path):
            try:
                self._zip = zipfile.ZipFile(path)
                infos = [i for i in self._zip.infolist() if not i.is_dir()]
            except (
                zipfile.BadZipFile,
                zipfile.LargeZipFile,
                OSError,
                ValueError,
                EOFError,
                NotImplementedError,
                struct.error,
            ) as exc:
                raise DecodeError(f"damaged zip: {exc}", code="malformed", source=str(path)) from exc
            if len(infos) > MAX_MEMBERS:
                raise DecodeError(f"{len(infos)} members, more than {MAX_MEMBERS}", code="too_large", source=str(path))
            for info in infos:
                _check_zip_member(info, str(path))
            self._sizes = {i.filename: i.file_size for i in infos}
            self.members = sorted(self._sizes)
        else:
            raise DecodeError("not a zip file or a folder", code="unsupported_format", source=str(path))

    def size(self, member: str) -> int:
        """Uncompressed size in bytes, from the zip directory or the file system (nothing is read)."""
        if self._zip is not None:
            return self._sizes[member]
        return (self.path / member).stat().st_size

    @contextmanager
    def open(self, member: str) -> Iterator[BinaryIO]:
        """A streaming reader of one member; a damaged zip stream becomes a DecodeError."""
        try:
            if self._zip is not None:
                # Decompresses as it is read, one member at a time, and never past the directory's size.
                with self._zip.open(member) as fh:
                    yield fh
            else:
                with open(self.path / member, "rb") as fh:
                    yield fh
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, struct.error) as exc:
            raise DecodeError(f"damaged zip member: {exc}", code="malformed", source=f"{self.path}:{member}") from exc
        except OSError as exc:  # a member header pointing outside the file (seek to a negative offset...)
            if self._zip is None:
                raise
            raise DecodeError(f"damaged zip member: {exc}", code="malformed", source=f"{self.path}:{member}") from exc

    def read(self, member: str, limit: int = MAX_MEMBER_BYTES) -> bytes:
        size = self.size(member)
        if size > limit:
            raise DecodeError(
                f"{size:,} bytes, more than the {limit:,} this member may hold",
                code="too_large",
                source=f"{self.path}:{member}",
            )
        with self.open(member) as fh:
            return fh.read(limit + 1)[:limit]

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


def _check_zip_member(info: zipfile.ZipInfo, source: str) -> None:
    """Refuse a member whose uncompressed size or compression ratio is a bomb's (module doc)."""
    where = f"{source}:{info.filename}"
    if info.file_size > MAX_MEMBER_BYTES:
        raise DecodeError(
            f"declares {info.file_size:,} bytes uncompressed, more than the {MAX_MEMBER_BYTES:,} a member may hold",
            code="too_large",
            source=where,
        )
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size >= RATIO_CHECK_MIN_BYTES and ratio > MAX_COMPRESSION_RATIO:
        raise DecodeError(
            f"compresses {ratio:,.0f}:1 ({info.compress_size:,} -> {info.file_size:,} bytes), beyond "
            f"{MAX_COMPRESSION_RATIO}:1: a decompression bomb, not a signal",
            code="too_large",
            source=where,
        )


def _ignored(member: str) -> bool:
    parts = PurePosixPath(member).parts
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


# --------------------------------------------------------------------------------- name mapping
def resolve_datatype(stem: str) -> tuple[Datatype, str] | None:
    """File stem -> (datatype, how matched) or None if unknown."""
    if stem in catalog.BY_NAME:
        return catalog.BY_NAME[stem], "name"
    if stem.isdigit() and int(stem) in catalog.BY_ID:
        return catalog.BY_ID[int(stem)], "id"
    lowered = stem.lower()
    for name, dt in catalog.BY_NAME.items():
        if name.lower() == lowered:
            return dt, "name"
    if lowered in ALIASES and ALIASES[lowered] in catalog.BY_ID:
        return catalog.BY_ID[ALIASES[lowered]], "alias"
    return None


# ------------------------------------------------------------------------------ decoded channels
@dataclass
class DecodedChannel:
    """One channel of a record, decoded but not yet expanded: its samples come out in time order, in
    slices, so a long record never needs all its timestamps (8 bytes a sample) in memory at once.

    Synchronous channels (WAV) keep the raw samples as stored (2 bytes each) and compute timestamps per
    slice; event channels (.hxd, CSV) hold their own times, sorted.
    """

    summary: ChannelSummary
    values: np.ndarray  # raw samples as stored (int16/uint16 WAV, int64 events)
    start_ns: int
    ts_ns: np.ndarray | None = None  # events: int64 ns, sorted; None: synchronous (rate_hz)
    at_period_end: bool = False

    @property
    def datatype_id(self) -> int:
        return self.summary.datatype_id

    @property
    def family(self) -> Family:
        return self.summary.family

    def __len__(self) -> int:
        return int(self.values.size)

    def ts(self, k0: int = 0, k1: int | None = None) -> np.ndarray:
        """Timestamps (int64 ns) of samples k0..k1."""
        k1 = len(self) if k1 is None else k1
        if self.ts_ns is not None:
            return self.ts_ns[k0:k1]
        return hb.synchronous_ts_ns(self.start_ns, k0, k1, self.summary.rate_hz, at_period_end=self.at_period_end)

    def raw(self, k0: int = 0, k1: int | None = None) -> np.ndarray:
        """Raw values (int64) of samples k0..k1."""
        return self.values[k0:k1].astype(np.int64)

    def index_range(self, lo_ns: int | None, hi_ns: int | None) -> tuple[int, int]:
        """(k0, k1): the samples with lo_ns <= ts < hi_ns (either bound may be None)."""
        n = len(self)
        if self.ts_ns is not None:
            k0 = 0 if lo_ns is None else int(np.searchsorted(self.ts_ns, lo_ns, side="left"))
            k1 = n if hi_ns is None else int(np.searchsorted(self.ts_ns, hi_ns, side="left"))
        else:  # timestamps grow with k: binary search on single computed timestamps
            ts_at = lambda k: int(self.ts(k, k + 1)[0])  # noqa: E731
            k0 = 0 if lo_ns is None else bisect.bisect_left(range(n), lo_ns, key=ts_at)
            k1 = n if hi_ns is None else bisect.bisect_left(range(n), hi_ns, key=ts_at)
        return k0, max(k0, k1)

    def slices(
        self, max_rows: int, lo_ns: int | None = None, hi_ns: int | None = None, *, widen: bool = True
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ts int64 ns, raw values) slices of at most max_rows samples with lo_ns <= ts < hi_ns. Values
        are int64, or with widen=False views of the stored samples (int16/uint16 for WAV)."""
        k0, k1 = self.index_range(lo_ns, hi_ns)
        for a in range(k0, k1, max_rows):
            b = min(a + max_rows, k1)
            yield self.ts(a, b), (self.raw(a, b) if widen else self.values[a:b])


@dataclass
class RecordStream:
    """One record of an open export: its channels decode one at a time, in datatype order."""

    source: str
    record_dir: str
    info: hb.RecordInfo
    skipped: list[SkippedMember]
    warnings: list[str]
    _container: _Container = field(repr=False)
    _members: list[tuple[int, str, str, Datatype]] = field(repr=False)  # (datatype id, member, kind, dt)
    decoded: list[ChannelSummary] = field(default_factory=list)
    duration_s: float | None = None  # the bound on channel lengths (module doc); None: none known

    def channels(self) -> Iterator[DecodedChannel]:
        """Every readable channel, in datatype order. Event files (small) are decoded first, because a
        CSV header may name another datatype than its file name; WAV files decode when reached. A file
        that fails to decode is reported in `skipped`/`warnings`, as read_exports does."""
        return _run(self._entries())

    def channels_by_family(self) -> dict[Family, Iterator[DecodedChannel]]:
        """The same channels as `channels()`, one lazy iterator per family (each in datatype order), so
        a caller can interleave families while holding one channel's samples per family at most."""
        per_family: dict[Family, list[tuple]] = defaultdict(list)
        for entry in self._entries():
            per_family[entry[2].family].append(entry)
        return {family: _run(entries) for family, entries in per_family.items()}

    def _entries(self) -> list[tuple[int, int, _Thunk]]:
        """(datatype id, 0 wav / 1 events, decode thunk) for every channel to read."""
        events: dict[int, list[DecodedChannel]] = defaultdict(list)
        entries: list[tuple] = []
        for dt_id, member, kind, dt in self._members:
            if kind == "wav":
                thunk = lambda m=member, d=dt: self._decode(m, "wav", d)
                entries.append((dt_id, 0, _Thunk(thunk, dt.family)))
                continue
            for channel in self._decode(member, kind, dt):
                events[channel.datatype_id].append(channel)
        for dt_id, parts in events.items():
            merged = _merged(parts)
            entries.append((dt_id, 1, _Thunk(lambda c=merged: [c], merged.family)))
        return entries

    def _decode(self, member: str, kind: str, dt: Datatype) -> list[DecodedChannel]:
        try:
            out = _decode_member(self._container, member, kind, dt, self.info, self.warnings, self.duration_s)
        except DecodeError as exc:
            if exc.code == "too_large":  # a bomb refuses the whole record, never just the member
                raise exc.with_source(f"{self.source}:{member}") from exc
            self.skipped.append(SkippedMember(member, "error", exc.reason))
            self.warnings.append(f"{member}: {exc.reason}")
            return []
        self.decoded.extend(c.summary for c in out)
        return out


def _run(entries: list[tuple[int, int, _Thunk]]) -> Iterator[DecodedChannel]:
    for _, _, decode in sorted(entries, key=lambda e: e[:2]):
        yield from decode()


@dataclass(frozen=True)
class _Thunk:
    """A channel's decoding, deferred until the caller reaches it; `family` is known beforehand."""

    run: Callable[[], list[DecodedChannel]]
    family: Family

    def __call__(self) -> list[DecodedChannel]:
        return self.run()


def _merged(parts: list[DecodedChannel]) -> DecodedChannel:
    """Event columns of one datatype from several files (a CSV header naming another file's datatype)."""
    if len(parts) == 1:
        return parts[0]
    ts = np.concatenate([p.ts() for p in parts])
    values = np.concatenate([p.raw() for p in parts])
    order = np.argsort(ts, kind="stable")
    return DecodedChannel(parts[0].summary, values[order], parts[0].start_ns, ts[order])


# --------------------------------------------------------------------------------------- reading
@contextmanager
def open_exports(
    path: str | os.PathLike[str], *, start_ticks: int | None = None, duration_s: float | None = None
) -> Iterator[list[RecordStream]]:
    """The records of a zip/folder export (one per folder holding signal files), ready to stream.

    Nothing is decoded yet except info.json; each record's `channels()` decodes as it is iterated, while
    the export is open. `start_ticks` overrides info.json (needed only when info.json is missing).
    `duration_s`, when known (the API's record), bounds every channel's length (module doc); a record
    breaking a bound raises DecodeError(code="too_large") here, before anything is decoded.
    """
    container = _Container(Path(path))
    try:
        groups: dict[str, list[str]] = defaultdict(list)
        for member in container.members:
            if not _ignored(member):
                parent = PurePosixPath(member).parent
                groups["" if parent == PurePosixPath(".") else str(parent)].append(member)
        records = [
            d for d, ms in groups.items() if any(PurePosixPath(m).suffix.lower() in SIGNAL_EXTENSIONS for m in ms)
        ]
        if not records:
            raise DecodeError("no signal files (.wav, .hxd, .csv) in the export", code="no_data", source=str(path))
        yield [_plan_record(container, d, groups[d], start_ticks, duration_s) for d in sorted(records)]
    finally:
        container.close()


def read_exports(
    path: str | os.PathLike[str], *, start_ticks: int | None = None, duration_s: float | None = None
) -> list[SignalExport]:
    """Every record in a zip/folder export (one per folder holding signal files), decoded whole.

    `start_ticks` overrides info.json (needed only when info.json is missing, e.g. a hand-made zip);
    `duration_s` bounds the channels (open_exports).
    """
    with open_exports(path, start_ticks=start_ticks, duration_s=duration_s) as records:
        return [_read_record(r) for r in records]


def read_export(path: str | os.PathLike[str], *, start_ticks: int | None = None) -> SignalExport:
    """The single record of an export; DecodeError if it holds several (use read_exports)."""
    records = read_exports(path, start_ticks=start_ticks)
    if len(records) != 1:
        raise DecodeError(
            f"export holds {len(records)} records ({[r.record_dir for r in records]}); use read_exports",
            code="malformed",
            source=str(path),
        )
    return records[0]


def _read_record(record: RecordStream) -> SignalExport:
    per_family: dict[Family, list[tuple[int, np.ndarray, np.ndarray]]] = defaultdict(list)
    for channel in record.channels():
        per_family[channel.family].append((channel.datatype_id, channel.ts(), channel.raw()))
    tables = {family: _family_table(parts) for family, parts in per_family.items()}
    return SignalExport(
        source=record.source,
        record_dir=record.record_dir,
        info=record.info,
        tables=tables,
        channels=tuple(sorted(record.decoded, key=lambda c: c.datatype_id)),
        skipped=tuple(record.skipped),
        warnings=tuple(record.warnings),
    )


def _plan_record(
    container: _Container, record_dir: str, members: list[str], start_ticks: int | None, duration_s: float | None
) -> RecordStream:
    source = str(container.path)
    warnings: list[str] = []
    skipped: list[SkippedMember] = []
    info_member = next((m for m in members if PurePosixPath(m).name.lower() == "info.json"), None)
    if start_ticks is not None:
        info = hb.RecordInfo(start_ticks=start_ticks, ticks_per_second=hb.detect_ticks_per_second(start_ticks))
    elif info_member is not None:
        try:
            info = hb.parse_info_json(container.read(info_member, MAX_META_BYTES))
        except DecodeError as exc:
            raise exc.with_source(f"{source}:{info_member}") from exc
        warnings.extend(info.warnings)
    else:
        raise DecodeError(
            f"no info.json in {record_dir or 'the export root'}: the record start is unknown (pass start_ticks)",
            code="missing_metadata",
            source=source,
        )

    # Resolve every member first so duplicates are decided before any bytes are decoded.
    candidates: dict[int, list[tuple[tuple[int, int], str, str, Datatype]]] = defaultdict(list)
    for member in members:
        name = PurePosixPath(member).name
        suffix = PurePosixPath(member).suffix.lower()
        if member == info_member:
            continue
        if name.lower() in NOT_SIGNALS:
            skipped.append(SkippedMember(member, "not_signal", NOT_SIGNALS[name.lower()]))
            continue
        if suffix not in SIGNAL_EXTENSIONS:
            skipped.append(SkippedMember(member, "unknown", f"unsupported file type {suffix or '(none)'}"))
            continue
        kind = suffix[1:]
        resolved = resolve_datatype(PurePosixPath(member).stem)
        if kind == "csv" and resolved is None:
            resolved = _datatype_from_csv_header(container, member)
        if resolved is None:
            skipped.append(SkippedMember(member, "unknown", "file name matches no datatype in the catalog"))
            continue
        dt, how = resolved
        candidates[dt.id].append(((_MATCH_RANK[how], _KIND_RANK[kind]), member, kind, dt))

    chosen: list[tuple[int, str, str, Datatype]] = []
    for dt_id in sorted(candidates):
        ranked = sorted(candidates[dt_id])
        _, member, kind, dt = ranked[0]
        for _, other, _, _ in ranked[1:]:
            skipped.append(
                SkippedMember(
                    other,
                    "duplicate",
                    f"datatype {dt_id} ({dt.name}) is read from {member}; this file "
                    f"is an alias or duplicate and is not decoded",
                )
            )
        chosen.append((dt_id, member, kind, dt))
    return RecordStream(
        source=source,
        record_dir=record_dir,
        info=info,
        skipped=skipped,
        warnings=warnings,
        _container=container,
        _members=chosen,
        duration_s=_check_bounds(container, chosen, duration_s),
    )


def allowed_samples(duration_s: float, rate_hz: float) -> int:
    """The most samples a channel at `rate_hz` may hold in a record of `duration_s` (module doc)."""
    slack = max(DURATION_SLACK_S, duration_s / 100)
    return math.ceil((duration_s + slack) * rate_hz) + 2


def allowed_events(duration_s: float) -> int:
    return allowed_samples(duration_s, MAX_EVENT_RATE_HZ) + EVENT_SLACK


def _check_bounds(
    container: _Container, chosen: list[tuple[int, str, str, Datatype]], duration_s: float | None
) -> float | None:
    """Measure every chosen member without decoding it and refuse the record if one is a bomb (module
    doc). Returns the duration that bounds the events decoded later (None: unknown, their own span)."""
    source = str(container.path)
    sync: list[tuple[str, int, float]] = []  # member, samples, rate
    events: list[tuple[str, int]] = []  # .hxd member, events
    for _, member, kind, dt in chosen:
        size = container.size(member)
        where = f"{source}:{member}"
        if kind == "csv" and size > MAX_CSV_BYTES:
            raise DecodeError(
                f"event CSV of {size:,} bytes, more than {MAX_CSV_BYTES:,}", code="too_large", source=where
            )
        if kind == "hxd":
            events.append((member, size // hb.HXD_DTYPE.itemsize))
        if kind != "wav":
            continue
        try:
            with container.open(member) as fh:
                header = hb.read_wav_header(fh)
            rate, _ = hb.wav_rate_hz(header.framerate, dt)
        except DecodeError:
            continue  # not a bomb, just undecodable: the decoder skips it with its reason
        held = max(size - header.data_offset, 0) // header.sample_width
        shortfall = header.declared_frames - held
        if shortfall > max(rate * WAV_SHORTFALL_S, 1):
            raise DecodeError(
                f"WAV header declares {header.declared_frames:,} samples but the member holds {held:,}",
                code="too_large",
                source=where,
            )
        sync.append((member, min(header.declared_frames, held), rate))

    if duration_s is None:
        durations = sorted(n / rate for _, n, rate in sync if n)
        # The lower median: one lying channel among honest ones cannot set the bound.
        duration_s = durations[(len(durations) - 1) // 2] if durations else None
        if duration_s is not None and duration_s > MAX_RECORD_SECONDS:
            raise DecodeError(
                f"channels last {duration_s / 86_400:,.1f} days, more than a record's {MAX_RECORD_SECONDS // 86_400}",
                code="too_large",
                source=source,
            )
    bound = MAX_RECORD_SECONDS if duration_s is None else duration_s
    record = f"a record of {bound:,.0f} s" if duration_s is not None else f"a record of at most {bound:,.0f} s"
    for member, n, rate in sync:
        if n > allowed_samples(bound, rate):
            raise DecodeError(
                f"{n:,} samples at {rate:g} Hz ({n / rate:,.0f} s) in {record}",
                code="too_large",
                source=f"{source}:{member}",
            )
    for member, n in events:
        if n > allowed_events(bound):
            raise DecodeError(
                f"{n:,} events in {record} (at most {MAX_EVENT_RATE_HZ}/s)",
                code="too_large",
                source=f"{source}:{member}",
            )
    return duration_s


def _datatype_from_csv_header(container: _Container, member: str) -> tuple[Datatype, str] | None:
    """A CSV with an unknown name may still declare its datatype URI in the header."""
    with container.open(member) as fh:
        head = fh.readline(4096).decode("utf-8", "replace")
    ids = re.findall(r"/api/(?:v\d+/)?datatype/(\d+)/", head)
    if len(ids) == 1 and int(ids[0]) in catalog.BY_ID:
        return catalog.BY_ID[int(ids[0])], "id"
    return None


def _decode_member(
    container: _Container,
    member: str,
    kind: str,
    dt: Datatype,
    info: hb.RecordInfo,
    warnings: list[str],
    duration_s: float | None = None,
) -> list[DecodedChannel]:
    start_ns = info.start_ns
    if kind == "wav":
        with container.open(member) as fh:
            wav = hb.decode_wav(fh, signed=dt.signed)
        rate, warning = hb.wav_rate_hz(wav.framerate, dt)
        if warning:
            warnings.append(f"{member}: {warning}")
        if wav.truncated:
            warnings.append(
                f"{member}: data chunk shorter than declared ({wav.values.size} of {wav.declared_frames} samples kept)"
            )
        summary = ChannelSummary(member, dt.id, dt.name, dt.family, kind, int(wav.values.size), 0, rate)
        return [DecodedChannel(summary, wav.values, start_ns, at_period_end=dt.first_sample_at_period)]

    if kind == "hxd":
        records = hb.decode_hxd(container.read(member))
        _check_event_count(int(records.size), records["offset_ticks"], info.ticks_per_second, duration_s)
        ts = start_ns + records["offset_ticks"].astype(np.int64) * (hb.NS_PER_SECOND // info.ticks_per_second)
        summary = ChannelSummary(member, dt.id, dt.name, dt.family, kind, int(records.size))
        return [_event_channel(summary, ts, records["value"].astype(np.int64), start_ns)]

    out = []
    for col in hb.decode_event_csv(container.read(member, MAX_CSV_BYTES)):
        _check_event_count(int(col.values.size), col.time_s, 1, duration_s)
        col_dt = dt
        if col.datatype_id is not None and col.datatype_id != dt.id:
            # The header URI is explicit; the file name may be an alias or a user's rename.
            if col.datatype_id not in catalog.BY_ID:
                raise DecodeError(f"header declares datatype {col.datatype_id}, not in the catalog")
            warnings.append(
                f"{member}: header datatype {col.datatype_id} differs from the file name's {dt.id}; the header wins"
            )
            col_dt = catalog.BY_ID[col.datatype_id]
        ts = start_ns + hb.csv_seconds_to_offsets_ns(col.time_s, info.ticks_per_second)
        summary = ChannelSummary(
            member, col_dt.id, col_dt.name, col_dt.family, kind, int(col.values.size), col.n_null_dropped
        )
        out.append(_event_channel(summary, ts, col.values, start_ns))
    return out


def _check_event_count(n: int, times: np.ndarray, per_second: int, duration_s: float | None) -> None:
    """Events must fit the record's duration, or, when none is known, their own span (module doc)."""
    if duration_s is None:
        duration_s = float(np.ptp(times)) / per_second if n else 0.0
    if n > allowed_events(duration_s):
        raise DecodeError(f"{n:,} events in {duration_s:,.0f} s (at most {MAX_EVENT_RATE_HZ}/s)", code="too_large")


def _event_channel(summary: ChannelSummary, ts: np.ndarray, values: np.ndarray, start_ns: int) -> DecodedChannel:
    if ts.size > 1 and np.any(ts[1:] < ts[:-1]):  # events are usually ordered already; be sure
        order = np.argsort(ts, kind="stable")
        ts, values = ts[order], values[order]
    return DecodedChannel(summary, values, start_ns, ts_ns=ts)


def _family_table(parts: list[tuple[int, np.ndarray, np.ndarray]]) -> pa.Table:
    """Concatenate channels in datatype order, each sorted by time: the table is sorted by (id, ts)."""
    ids, stamps, values = [], [], []
    for dt_id, ts, val in sorted(parts, key=lambda p: p[0]):
        if ts.size > 1 and np.any(ts[1:] < ts[:-1]):  # events are usually ordered already; be sure
            order = np.argsort(ts, kind="stable")
            ts, val = ts[order], val[order]
        ids.append(np.full(ts.size, dt_id, dtype=np.int32))
        stamps.append(ts)
        values.append(val)
    return pa.Table.from_arrays(
        [
            hb.ns_timestamps(np.concatenate(stamps)),
            pa.array(np.concatenate(ids), type=pa.int32()),
            pa.array(np.concatenate(values), type=pa.int64()),
        ],
        schema=SIGNAL_SCHEMA,
    )
