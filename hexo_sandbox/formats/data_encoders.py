"""Encoders for what the sandbox's /api/data/ serves: WAV and .hxd (binary zip), JSON, CSV, info.json.

The sandbox is the only writer of these formats; decoders live in `hexo_pipeline.decoders`. Layouts follow
../shared/reference/hexoskin_api_notes.md: §5.1 (WAV: RIFF/WAVE PCM mono 16-bit, exactly a 44-byte header;
.hxd: little-endian records "<Qq" = uint64 offset from record start in 1/256 s, int64 raw value; info.json),
§2/§3 (JSON `[{"data": {"19": [[ts, v], ...]}, "user": "/api/user/<id>/"}]`, physical values, ECG raw,
65535-point cap by subsampling) and §5.3 (CSV header `time [s/256],<name> [<unit>](/api/datatype/<id>/)`).

Everything is vectorised: numpy builds the binary layouts, pyarrow formats CSV, orjson (if installed,
else the standard json module) writes JSON from lists made by `.tolist()`.
"""

from __future__ import annotations

import io
import json
import math
import struct
import zipfile
from collections.abc import Iterable, Iterator, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from hexo_pipeline.hexoskin import datatypes as dtc
from hexo_pipeline.hexoskin.timestamps import from_ticks

try:  # optional: several times faster than json for large point lists
    import orjson
except ImportError:  # pragma: no cover - exercised only where orjson is absent
    orjson = None

__all__ = [
    "WAV_HEADER_BYTES",
    "VENDOR_RIFF_SIZE_EXTRA",
    "HXD_DTYPE",
    "JSON_CAP",
    "wav_framerate",
    "wav_header",
    "pcm16_bytes",
    "wav_bytes",
    "wav_stream",
    "hxd_bytes",
    "events_csv_bytes",
    "iter_data_zip",
    "write_data_zip",
    "info_json",
    "subsample_stride",
    "physical_values",
    "csv_column_name",
    "data_json",
    "data_csv",
]

WAV_HEADER_BYTES = 44
VENDOR_RIFF_SIZE_EXTRA = 40  # the vendor writes RIFF size = data bytes + 40 (spec: + 36)
HXD_DTYPE = np.dtype([("offset", "<u8"), ("value", "<i8")])
JSON_CAP = 65535  # points per datatype in JSON and CSV answers (notes §3)
RAW_IN_TEXT = frozenset({4113, 4114, 4115})  # ECG stays raw ADC counts in JSON/CSV (notes §3)
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed entry dates: same content -> same zip bytes
_TEXT_UNITS = {"bits": "NA", "code": "NA", "count": "NA", "step": "Step"}
# Raw units of the async CSV files of a real (2017) binary export (notes §5.1).
_EXPORT_UNITS = {
    18: "s/256",
    318: "s/256",
    319: "s/256",
    97: "s/256",
    1004: "NA",
    52: "Step",
    34: "s",
    35: "NA",
    269: "NA",
    270: "NA",
    280: "NA",
    17: "NA",
}


# ------------------------------------------------------------------------------------------------ WAV


def wav_framerate(rate_hz: float) -> int:
    """The WAV sample_rate field: Hz for channels at 1 Hz or faster, the period in seconds below (1/300 -> 300)."""
    if rate_hz <= 0:
        raise ValueError("rate_hz must be positive")
    return int(round(rate_hz)) if rate_hz >= 1 else int(round(1 / rate_hz))


def wav_header(n_frames: int, rate_hz: float) -> bytes:
    """The 44-byte RIFF/WAVE header: PCM (tag 1), mono, 16-bit, 'fmt ' of 16 bytes then 'data'.

    Byte-identical to the vendor's headers, including its RIFF size field of file length - 4 (the RIFF
    spec says - 8): 23 of the 25 WAVs of the real export (notes §5.1, S9) carry 40 + data bytes there;
    only the two server-side "*_adjusted" channels, which the sandbox does not serve, carry 36 + data.
    """
    framerate = wav_framerate(rate_hz)
    data_bytes = 2 * int(n_frames)
    if data_bytes + VENDOR_RIFF_SIZE_EXTRA > 0xFFFFFFFF:
        raise ValueError("too many frames for a RIFF file")
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        VENDOR_RIFF_SIZE_EXTRA + data_bytes,
        b"WAVE",
        b"fmt ",
        16,
        1,
        1,
        framerate,
        2 * framerate,
        2,
        16,
        b"data",
        data_bytes,
    )


def pcm16_bytes(samples: np.ndarray) -> bytes:
    """Little-endian int16 PCM. Values are clipped to [-32768, 65535]; unsigned values above 32767 keep
    their 16-bit pattern (like the vendor's unsigned channels, which decoders read back as uint16)."""
    a = np.asarray(samples)
    if a.dtype == np.dtype("<i2"):
        return a.tobytes()
    if a.dtype.kind == "f":
        a = np.rint(a)
    # int64 -> int16 keeps the low 16 bits: 40000 is stored as the pattern of -25536.
    return np.clip(a, -32768, 65535).astype("<i2").tobytes()


def wav_bytes(samples: np.ndarray, rate_hz: float) -> bytes:
    """A whole WAV file (44-byte header + int16 PCM) for one synchronous channel."""
    a = np.asarray(samples)
    return wav_header(a.size, rate_hz) + pcm16_bytes(a)


def wav_stream(n_frames: int, rate_hz: float, chunks: Iterable[np.ndarray]) -> Iterator[bytes]:
    """A WAV file as a stream of byte strings, for channels generated window by window.

    The header needs the frame count up front; a mismatch with what the chunks hold raises ValueError.
    """
    yield wav_header(n_frames, rate_hz)
    seen = 0
    for chunk in chunks:
        seen += np.asarray(chunk).size
        if seen > n_frames:
            raise ValueError(f"WAV stream got more than the {n_frames} frames announced")
        yield pcm16_bytes(chunk)
    if seen != n_frames:
        raise ValueError(f"WAV stream announced {n_frames} frames but got {seen}")


# ------------------------------------------------------------------------------------------------ events


def hxd_bytes(offsets_ticks: np.ndarray, values: np.ndarray) -> bytes:
    """Asynchronous channel as .hxd: flat little-endian "<Qq" records (offset ticks from record start, raw value)."""
    offsets, vals = np.asarray(offsets_ticks), np.asarray(values)
    if offsets.shape != vals.shape or offsets.ndim != 1:
        raise ValueError("offsets_ticks and values must be 1-D arrays of the same length")
    out = np.empty(offsets.size, dtype=HXD_DTYPE)
    out["offset"] = offsets
    out["value"] = vals
    return out.tobytes()


def events_csv_bytes(datatype_id: int, offsets_ticks: np.ndarray, values: np.ndarray) -> bytes:
    """Asynchronous channel as a newer export writes it (notes §5.1): `time [s],<name> [<unit>](/api/datatype/<id>/)`,
    time in seconds from record start, raw values."""
    d = dtc.get(datatype_id)
    unit = _EXPORT_UNITS.get(d.id, _TEXT_UNITS.get(d.unit, d.unit))
    header = f"time [s],{d.name} [{unit}](/api/datatype/{d.id}/)\n"
    table = pa.table(
        {
            "t": pa.array(np.asarray(offsets_ticks, dtype=np.float64) / 256.0),
            "v": pa.array(np.asarray(values, dtype=np.int64)),
        }
    )
    return header.encode() + _arrow_csv(table)


# ------------------------------------------------------------------------------------------------ zip


class _Sink:
    """A write-only, non-seekable byte collector: zipfile then streams (data descriptors after each entry)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def _zip_info(arcname: str, compresslevel: int | None) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(arcname, date_time=_ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_STORED if compresslevel is None else zipfile.ZIP_DEFLATED
    if compresslevel is not None:  # the per-entry level zipfile reads: compress_level from 3.13, before _compresslevel
        setattr(info, "compress_level" if hasattr(info, "compress_level") else "_compresslevel", compresslevel)
    info.external_attr = 0o644 << 16
    return info


def _zip_entries(zf: zipfile.ZipFile, parts, compresslevel: int | None) -> Iterator[None]:
    """Write the entries, pausing (yield) after every chunk so a caller can pass bytes on."""
    for arcname, content in parts:
        info = _zip_info(arcname, compresslevel)
        if isinstance(content, (bytes, bytearray, memoryview)):
            zf.writestr(info, bytes(content))
            yield
            continue
        with zf.open(info, "w") as dest:
            for chunk in content:
                dest.write(chunk)
                yield
        yield  # the entry's data descriptor


def iter_data_zip(
    parts: Iterable[tuple[str, bytes | Iterable[bytes]]], *, compresslevel: int | None = None
) -> Iterator[bytes]:
    """The binary-download zip as a stream of byte strings (for a streamed HTTP response).

    parts: (arcname, bytes or iterable of bytes), e.g. ("record_37700/ECG_I.wav", wav_stream(...)).
    compresslevel None stores the entries (fastest); 1-9 deflates. Measured on a Hexoskin subject-day:
    stored 127 MB in ~0.9 s including generation, deflate level 1 46 MB in ~2.3 s. Entries carry data
    descriptors (the output is not seekable).
    """
    sink = _Sink()
    with zipfile.ZipFile(sink, "w") as zf:
        for _ in _zip_entries(zf, parts, compresslevel):
            data = sink.drain()
            if data:
                yield data
    data = sink.drain()  # central directory
    if data:
        yield data


def write_data_zip(
    fileobj, parts: Iterable[tuple[str, bytes | Iterable[bytes]]], *, compresslevel: int | None = None
) -> None:
    """Write the binary-download zip to a file object, seekable (plain local headers) or not (streamed)."""
    try:
        seekable = bool(fileobj.seekable())
    except AttributeError:
        seekable = False
    if not seekable:
        for data in iter_data_zip(parts, compresslevel=compresslevel):
            fileobj.write(data)
        return
    with zipfile.ZipFile(fileobj, "w") as zf:
        for _ in _zip_entries(zf, parts, compresslevel):
            pass


def info_json(record_id: int, start_ticks: int, user_id: int, request_path: str) -> bytes:
    """info.json of a binary export, shaped like a real one (notes §5.1)."""
    start_date = from_ticks(start_ticks).replace(tzinfo=None).isoformat(timespec="microseconds")
    info = {
        "timestamp": start_ticks / 256,
        "request": request_path,
        "start": int(start_ticks),
        "user": int(user_id),
        "decoder_version": "0.5.3",
        "start_date": start_date,
        "algo": {
            "record_id": int(record_id),
            "created": "2016-07-06T21:28:06.889481",
            "algorithms": {
                k: "2.1.0"
                for k in (
                    "ecg",
                    "acceleration",
                    "sleep_phase",
                    "sleep_position",
                    "respiration",
                    "hrv",
                    "activity_detection",
                )
            },
            "id": 3,
            "resource_uri": "/api/algo/3/",
        },
    }
    return json.dumps(info, indent=4).encode()


# ------------------------------------------------------------------------------------------------ JSON / CSV


def subsample_stride(n: int, cap: int = JSON_CAP) -> int:
    """Stride that keeps at most `cap` of n points (points 0, s, 2s, ...): ceil(n / cap), at least 1."""
    return max(1, math.ceil(n / cap))


def physical_values(datatype_id: int, raw: np.ndarray) -> np.ndarray:
    """Raw -> the unit JSON and CSV carry: int64 when the catalog keeps raw units (or for ECG, which stays
    raw ADC), else float64 rounded to 8 decimals (exact for /256 and /4096 scales, clean for x13.28)."""
    d = dtc.get(datatype_id)
    raw = np.asarray(raw)
    if d.id in RAW_IN_TEXT or (d.scale == 1.0 and not d.offset):
        return raw.astype(np.int64)
    return np.round(np.asarray(d.to_physical(raw.astype(np.float64)), dtype=np.float64), 8)


def csv_column_name(datatype_id: int) -> str:
    d = dtc.get(datatype_id)
    unit = "NA" if d.id in RAW_IN_TEXT else _TEXT_UNITS.get(d.unit, d.unit)
    return f"{d.name} [{unit}](/api/datatype/{d.id}/)"


def _capped(series: Mapping[int, tuple[np.ndarray, np.ndarray]], cap: int):
    for dt, (ticks, raw) in series.items():
        ticks, raw = np.asarray(ticks), np.asarray(raw)
        if ticks.shape != raw.shape:
            raise ValueError(f"datatype {dt}: timestamps and values differ in length")
        stride = subsample_stride(ticks.size, cap)
        yield int(dt), ticks[::stride].astype(np.int64), physical_values(dt, raw[::stride])


def _dumps(obj) -> bytes:
    if orjson is not None:
        return orjson.dumps(obj)
    return json.dumps(obj, separators=(",", ":")).encode()


def data_json(
    series: Mapping[int, tuple[np.ndarray, np.ndarray]],
    user_id: int,
    *,
    flat: bool = False,
    no_timestamps: bool = False,
    cap: int = JSON_CAP,
) -> bytes:
    """/api/data/ JSON. series: datatype id -> (absolute HexoTimestamps, raw values), in output order.

    Default shape `[{"data": {"19": [[ts, v], ...], ...}, "user": "/api/user/<id>/"}]`; flat=True (one
    datatype) gives `[[ts, v], ...]`, and with no_timestamps `[v, ...]`. Each datatype keeps at most `cap`
    points (stride subsample_stride).
    """
    data = {}
    for dt, ticks, values in _capped(series, cap):
        vals = values.tolist()
        data[str(dt)] = vals if no_timestamps else [list(p) for p in zip(ticks.tolist(), vals)]
    if flat:
        if len(data) != 1:
            raise ValueError("flat output needs exactly one datatype")
        return _dumps(next(iter(data.values())))
    return _dumps([{"data": data, "user": f"/api/user/{int(user_id)}/"}])


def _arrow_csv(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return buf.getvalue()


def data_csv(series: Mapping[int, tuple[np.ndarray, np.ndarray]], *, cap: int = JSON_CAP) -> bytes:
    """/api/data/ CSV (dashboard style, notes §5.3): header `time [s/256],heart_rate [bpm](/api/datatype/19/),...`,
    one row per timestamp of any datatype (absolute HexoTimestamps, ascending), physical values, empty
    cells where a datatype has no point. Each datatype keeps at most `cap` points."""
    capped = list(_capped(series, cap))
    times = np.unique(np.concatenate([t for _, t, _ in capped])) if capped else np.zeros(0, np.int64)
    columns = {"time": pa.array(times, pa.int64())}
    header = ["time [s/256]"]
    for i, (dt, ticks, values) in enumerate(capped):
        pos = np.searchsorted(times, ticks)
        present = np.zeros(times.size, dtype=bool)
        present[pos] = True
        full = np.zeros(times.size, dtype=values.dtype)
        full[pos] = values
        columns[f"c{i}"] = pa.array(full, mask=~present)
        header.append(csv_column_name(dt))
    return (",".join(header) + "\n").encode() + _arrow_csv(pa.table(columns))
