"""Decoders for the files of a Hexoskin/Astroskin binary export: WAV, .hxd, event CSV, info.json.

Every function here takes bytes (or a binary stream) and returns numpy arrays of RAW integers plus
the timing facts needed to place them; no conversion to physical units (the catalog does that).
Formats and timing rules: ../shared/reference/hexoskin_api_notes.md §2 and §5.1.

Timestamps are computed in integer nanoseconds, never in float seconds:
- record start: ticks x (1e9 / ticks_per_second); 256 ticks/s -> x 3,906,250 exactly;
- channels faster than 1 Hz: sample k at start + k/fs           (k * 1e9 // fs, exact for 256/128/64 Hz);
- 1 Hz and slower channels:  sample k at start + (k+1) * period (the vendor's convention);
- .hxd events:               start + offset_ticks;
- CSV events:                start + time_s, rounded to the nearest tick (the vendor prints tick/256).
"""

from __future__ import annotations

import io
import json
import re
import struct
import wave
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from hexo_pipeline.decoders.errors import DecodeError
from hexo_pipeline.hexoskin.datatypes import Datatype

NS_PER_SECOND = 1_000_000_000

# `load_hx_data._check_freq`: api.hexoskin.com counts 256 ticks/s, the Astroskin server 1000; the right
# one is the one that puts the record start between 2009 and 2050.
_EPOCH_2009_S = 1_230_768_000
_EPOCH_2050_S = 2_524_608_000
SUPPORTED_TICK_RATES = (256, 1000)

HXD_DTYPE = np.dtype([("offset_ticks", "<u8"), ("value", "<i8")])


# --------------------------------------------------------------------------------------- info.json
@dataclass(frozen=True)
class RecordInfo:
    """The facts of an export's info.json that decoding needs."""

    start_ticks: int
    ticks_per_second: int
    user: int | None = None
    record_id: int | None = None
    request: str | None = None
    decoder_version: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    warnings: tuple[str, ...] = ()

    @property
    def start_ns(self) -> int:
        return ticks_to_ns(self.start_ticks, self.ticks_per_second)


def detect_ticks_per_second(start_ticks: int) -> int:
    """256 or 1000, whichever makes `start_ticks` a date between 2009 and 2050 (vendor rule)."""
    for rate in SUPPORTED_TICK_RATES:
        if _EPOCH_2009_S * rate < start_ticks < _EPOCH_2050_S * rate:
            return rate
    raise DecodeError(
        f"record start {start_ticks} is not a HexoTimestamp between 2009 and 2050 at 256 or 1000 ticks/s",
        code="missing_metadata",
    )


def ticks_to_ns(ticks: int, ticks_per_second: int = 256) -> int:
    if NS_PER_SECOND % ticks_per_second:
        raise ValueError(f"unsupported tick rate {ticks_per_second}")
    return int(ticks) * (NS_PER_SECOND // ticks_per_second)


def parse_info_json(data: bytes | str | dict[str, Any]) -> RecordInfo:
    """info.json -> RecordInfo. The start is `start` (or `start_timestamp`, S3) in ticks; the Unix-seconds
    `timestamp` is only a fallback, with a warning, because exports do not document its meaning."""
    if isinstance(data, dict):
        info = data
    else:
        try:
            info = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise DecodeError(f"info.json is not valid JSON: {exc}", code="malformed") from exc
    if not isinstance(info, dict):
        raise DecodeError("info.json is not a JSON object", code="malformed")

    warnings: list[str] = []
    start = info.get("start", info.get("start_timestamp"))
    if start is None and isinstance(info.get("timestamp"), (int, float)):
        start = round(float(info["timestamp"]) * 256)
        warnings.append("info.json has no 'start': derived it from 'timestamp' (Unix s) x 256")
    if start is None:
        raise DecodeError("info.json has neither 'start' nor 'start_timestamp'", code="missing_metadata")
    try:
        start_ticks = int(start)
    except (TypeError, ValueError) as exc:
        raise DecodeError(f"info.json start {start!r} is not an integer", code="missing_metadata") from exc
    tps = detect_ticks_per_second(start_ticks)

    ts = info.get("timestamp")
    if isinstance(ts, (int, float)) and "start" in info and abs(ts * tps - start_ticks) > 1:
        warnings.append(
            f"info.json 'timestamp' {ts} disagrees with 'start' {start_ticks} by "
            f"{ts - start_ticks / tps:.3f} s; using 'start'"
        )

    request = info.get("request") if isinstance(info.get("request"), str) else None
    record_id = None
    if request and (m := re.search(r"record=(\d+)", request)):
        record_id = int(m.group(1))
    elif isinstance(info.get("algo"), dict) and isinstance(info["algo"].get("record_id"), int):
        record_id = info["algo"]["record_id"]
    user = info.get("user")
    return RecordInfo(
        start_ticks=start_ticks,
        ticks_per_second=tps,
        user=int(user) if isinstance(user, (int, str)) and str(user).isdigit() else None,
        record_id=record_id,
        request=request,
        decoder_version=info.get("decoder_version"),
        raw=info,
        warnings=tuple(warnings),
    )


# --------------------------------------------------------------------------------------------- WAV
@dataclass(frozen=True)
class WavData:
    framerate: int  # the header field: Hz, or the PERIOD in s for channels slower than 1 Hz
    sample_width: int
    declared_frames: int
    values: np.ndarray  # raw samples, int16/uint16 (or int32) as stored
    truncated: bool  # fewer bytes than the header declares (whole samples kept)


def decode_wav(data: bytes | bytearray | memoryview | BinaryIO, *, signed: bool) -> WavData:
    """RIFF/WAVE PCM mono -> raw samples, read as int16 when `signed` else uint16 (catalog sign).

    The stdlib `wave` module parses the chunks (the vendor writes a 44-byte header whose RIFF size is
    4 bytes too large; `wave` does not care). Samples are viewed with numpy.frombuffer, no copy/loop.
    """
    stream: BinaryIO = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    try:
        with wave.open(stream, "rb") as wav:
            channels, width = wav.getnchannels(), wav.getsampwidth()
            framerate, nframes, comptype = wav.getframerate(), wav.getnframes(), wav.getcomptype()
            if comptype != "NONE":
                raise DecodeError(f"WAV compression {comptype!r} is not PCM")
            if channels != 1:
                raise DecodeError(f"WAV has {channels} channels; Hexoskin writes mono")
            if width == 2:
                dtype = np.dtype("<i2" if signed else "<u2")
            elif width == 4:  # accepted by the vendor decoder (S3), never seen in practice
                dtype = np.dtype("<i4" if signed else "<u4")
            else:
                raise DecodeError(f"WAV sample width {width} bytes is not 16 or 32 bit")
            payload = wav.readframes(nframes)
    except (wave.Error, EOFError, RuntimeError, struct.error) as exc:  # RuntimeError: a chunk size past the end
        raise DecodeError(f"not a PCM WAV file: {exc}") from exc
    n_whole = len(payload) // width
    values = np.frombuffer(payload, dtype=dtype, count=n_whole)
    return WavData(
        framerate=framerate, sample_width=width, declared_frames=nframes, values=values, truncated=n_whole < nframes
    )


@dataclass(frozen=True)
class WavHeader:
    framerate: int
    sample_width: int
    declared_frames: int
    data_offset: int  # bytes before the first sample


def read_wav_header(stream: BinaryIO) -> WavHeader:
    """The header of a WAV stream, without reading its samples (the stream is left after the header)."""
    try:
        with wave.open(stream, "rb") as wav:
            header = WavHeader(wav.getframerate(), wav.getsampwidth(), wav.getnframes(), stream.tell())
    except (wave.Error, EOFError, RuntimeError, struct.error) as exc:
        raise DecodeError(f"not a PCM WAV file: {exc}") from exc
    if header.sample_width <= 0:
        raise DecodeError(f"WAV sample width {header.sample_width} bytes is not 16 or 32 bit")
    return header


def wav_rate_hz(framerate: int, datatype: Datatype) -> tuple[float, str | None]:
    """The sampling rate a WAV header means for this datatype, and a warning if it contradicts the catalog.

    Channels slower than 1 Hz store their PERIOD in seconds (HRV: 300); faster channels store Hz. When the
    header and the catalog disagree for a fast channel (Astroskin on the 1000-tick server samples ECG at
    250 Hz) the header wins: it describes the bytes we hold.
    """
    catalog = datatype.rate_hz
    if catalog is None:
        raise DecodeError(f"{datatype.name} is an event channel; it cannot be stored as WAV")
    if catalog < 1:
        period_s = round(1 / catalog)
        if framerate == period_s:
            return catalog, None
        raise DecodeError(f"{datatype.name}: WAV framerate field {framerate} is not the expected period {period_s} s")
    if framerate <= 0:
        raise DecodeError(f"{datatype.name}: WAV framerate {framerate} is not positive")
    if framerate == catalog:
        return catalog, None
    return float(framerate), (
        f"{datatype.name}: WAV rate {framerate} Hz differs from the catalog's "
        f"{catalog:g} Hz; timestamps use the file's rate"
    )


def synchronous_offsets_ns(n: int, rate_hz: float, *, at_period_end: bool) -> np.ndarray:
    """Offsets from record start, in ns, of n samples at `rate_hz` (int64, exact integer arithmetic)."""
    return synchronous_ts_ns(0, 0, n, rate_hz, at_period_end=at_period_end)


def synchronous_ts_ns(start_ns: int, k0: int, k1: int, rate_hz: float, *, at_period_end: bool) -> np.ndarray:
    """Timestamps (int64 ns) of samples k0 <= k < k1 of a channel starting at `start_ns`: the same values
    as start_ns + synchronous_offsets_ns(n)[k0:k1], without materialising the whole channel."""
    shift = 1 if at_period_end else 0
    if rate_hz >= 1 and float(rate_hz).is_integer():
        fs = int(rate_hz)
        if NS_PER_SECOND % fs == 0:
            # One pass: the vendor's rates (256, 128, 64, 1 Hz) have a whole number of ns per sample.
            step = NS_PER_SECOND // fs
            return np.arange(start_ns + (k0 + shift) * step, start_ns + (k1 + shift) * step, step, dtype=np.int64)[
                : max(k1 - k0, 0)
            ]
        # k * 1e9 // fs: drift-free for any other integer rate.
        k = np.arange(k0 + shift, k1 + shift, dtype=np.int64)
        return start_ns + k * NS_PER_SECOND // fs
    period_ns = round(NS_PER_SECOND / rate_hz)  # 1/300 Hz -> 300 s exactly
    return start_ns + np.arange(k0 + shift, k1 + shift, dtype=np.int64) * period_ns


def ns_timestamps(ns: np.ndarray) -> pa.Array:
    """int64 ns since the epoch -> timestamp[ns, UTC] Arrow array, zero-copy (`pa.array(x, type=...)`
    converts element by element: about 30 ms per million values)."""
    return pa.array(np.asarray(ns, dtype=np.int64)).view(pa.timestamp("ns", tz="UTC"))


# --------------------------------------------------------------------------------------------- hxd
def decode_hxd(data: bytes | bytearray | memoryview) -> np.ndarray:
    """.hxd -> structured array (offset_ticks uint64 from record start, value int64), zero-copy view."""
    if len(data) % HXD_DTYPE.itemsize:
        raise DecodeError(
            f".hxd size {len(data)} bytes is not a multiple of 16 (records are '<Qq': "
            f"uint64 offset ticks, int64 value); the file is truncated or not .hxd"
        )
    records = np.frombuffer(data, dtype=HXD_DTYPE)
    if records.size and int(records["offset_ticks"].max()) >= 2**62:
        raise DecodeError(".hxd offsets are implausibly large; not a Hexoskin .hxd file")
    return records


# --------------------------------------------------------------------------------------- event CSV
_COLUMN_RE = re.compile(
    r"^\s*(?P<name>[^\[(]+?)\s*\[(?P<unit>[^\]]*)\]\s*"
    r"(?:\(\s*/api/(?:v\d+/)?datatype/(?P<id>\d+)/?\s*\))?\s*$"
)


@dataclass(frozen=True)
class EventColumn:
    """One value column of an event CSV, nulls (`nan` cells) already dropped."""

    datatype_id: int | None  # from the header's /api/datatype/<id>/ (None if the header has no URI)
    name: str
    unit: str
    time_s: np.ndarray  # float64 seconds from record start
    values: np.ndarray  # int64 raw values
    n_null_dropped: int


def parse_event_csv_header(line: str) -> list[tuple[str, str, int | None]]:
    """`time [s],RR_interval [s/256](/api/datatype/18/)` -> [(name, unit, id)] of the VALUE columns."""
    cells = [c for c in line.strip().split(",")]
    if not cells or not cells[0].strip():
        raise DecodeError("event CSV has an empty header")
    parsed = []
    for cell in cells:
        m = _COLUMN_RE.match(cell)
        if not m:
            raise DecodeError(f"event CSV header cell {cell!r} is not 'name [unit](/api/datatype/N/)'")
        parsed.append((m.group("name"), m.group("unit"), int(m.group("id")) if m.group("id") else None))
    time_name, time_unit, _ = parsed[0]
    if time_name.lower() != "time" or time_unit != "s":
        # Dashboard CSVs (`time [s/256]`, absolute time, PHYSICAL values) are a different product.
        raise DecodeError(
            f"first column is {cells[0]!r}; an export event CSV starts with 'time [s]' (relative seconds, raw values)"
        )
    if len(parsed) < 2:
        raise DecodeError("event CSV has no value column")
    return parsed[1:]


def decode_event_csv(data: bytes) -> list[EventColumn]:
    """Event CSV of a binary export -> one EventColumn per value column (vectorised with pyarrow.csv).

    `nan` (and empty) cells are dropped and counted; values must be integers (raw); a CSV of physical
    floats is rejected rather than silently truncated.
    """
    text_start = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    header, _, body = text_start.partition(b"\n")
    try:
        columns = parse_event_csv_header(header.decode("utf-8").rstrip("\r"))
    except UnicodeDecodeError as exc:
        raise DecodeError(f"event CSV header is not UTF-8: {exc}") from exc
    n_cols = 1 + len(columns)
    names = [f"c{i}" for i in range(n_cols)]
    if body.strip():
        try:
            table = pacsv.read_csv(
                io.BytesIO(body),
                read_options=pacsv.ReadOptions(column_names=names),
                convert_options=pacsv.ConvertOptions(column_types={n: pa.float64() for n in names}),
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise DecodeError(f"event CSV body is not numeric: {exc}") from exc
    else:
        table = pa.table({n: pa.array([], pa.float64()) for n in names})

    time_col = table.column(0).to_numpy(zero_copy_only=False)  # nulls -> nan
    out = []
    for i, (name, unit, dt_id) in enumerate(columns, start=1):
        values = table.column(i).to_numpy(zero_copy_only=False)
        keep = ~(np.isnan(values) | np.isnan(time_col))
        kept = values[keep]
        if kept.size and (
            not np.all(np.isfinite(kept)) or np.any(kept != np.floor(kept)) or np.abs(kept).max() >= 2**53
        ):
            raise DecodeError(
                f"column {name!r} holds non-integer values: an export event CSV carries raw "
                f"integers (is this a converted, physical-unit CSV?)"
            )
        out.append(
            EventColumn(
                datatype_id=dt_id,
                name=name,
                unit=unit,
                time_s=time_col[keep],
                values=kept.astype(np.int64),
                n_null_dropped=int((~keep).sum()),
            )
        )
    return out


def csv_seconds_to_offsets_ns(time_s: np.ndarray, ticks_per_second: int = 256) -> np.ndarray:
    """Relative float seconds -> int64 ns, via the nearest tick (the vendor prints ticks / rate)."""
    ticks = np.rint(np.asarray(time_s, dtype=np.float64) * ticks_per_second).astype(np.int64)
    return ticks * (NS_PER_SECOND // ticks_per_second)
