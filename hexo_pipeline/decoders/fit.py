"""FIT -> activities (sessions), laps, trackpoints (records) and RR intervals (hrv messages); a
monitoring file (all-day heart rate and steps, no record/lap/session) -> the monitoring table
(decoders/fit_monitoring.py), read the same way and within the same bounds.

Decoders: fitparse first (the design's choice); when it raises, fitdecode (maintained, FIT profile 21.171
of 2025, reads real files fitparse rejects, e.g. a COROS file with misaligned field sizes). fitdecode
also tells us WHY a file is bad (typed errors, one header frame per chained segment, CRC per segment),
which fitparse does not. Both are driven by the same FIT profile and name fields alike, so one mapping
serves both, and the tests check they agree on every valid real file. Which one decoded a file is
reported (`FitResult.decoder`), with fitparse's error when the fallback was needed.

Policy for damaged files (tested on real_files/fit_invalid):
- file CRC mismatch, every message parses: decoded, `crc_ok=False` and a warning (the CRC alone may be
  what is damaged); `strict_crc=True` raises DecodeError(code="crc_mismatch") instead.
- a later chained segment with an invalid header, or a file that ends early: DecodeError (codes
  invalid_header / truncated / no_data when the failing segment holds nothing); the error carries the
  complete data read before the failure in `.partial` (marked partial=True), returned directly when the
  caller passes allow_partial=True.
- nothing decodable at all (header only, not FIT): DecodeError, no partial.
- bytes the libraries trip over with generic exceptions (fitdecode's AssertionError, "ValueError: size",
  TypeError, struct.error... found by fuzzing): DecodeError(code="malformed"); a header declaring an
  absurd data size: DecodeError(code="too_large") before any library reads it; decoded numbers that are
  not finite or outside their column's plausible range: DecodeError(code="implausible_value")
  (decoders/plausible.py). Nothing but DecodeError leaves `decode_fit` (tests/test_fuzz_decoders.py).

RR intervals: each `hrv` message holds up to 5 intervals in s (invalid/padding = None or 65.535). They
carry no timestamp, so beat times are rebuilt by cumulative sum anchored at the activity start: the first
`timer start` event, else the first session start, else the first record (else file creation time).
Garmin keeps recording beats while the timer is paused, so elapsed (not timer) time is the right axis;
on the real fenix 5 / edge 820 files the rebuilt beats interleave with record timestamps as written.
Sums are done in integer milliseconds (FIT stores RR in ms), so there is no float drift.
"""

from __future__ import annotations

import io
import math
import struct
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import fitdecode
import fitparse
import numpy as np
import pyarrow as pa

from hexo_pipeline.decoders.errors import DecodeError
from hexo_pipeline.decoders.fit_monitoring import monitoring_table
from hexo_pipeline.decoders.plausible import check_columns
from hexo_pipeline.decoders.schemas import (
    ACTIVITIES_SCHEMA,
    LAPS_SCHEMA,
    RR_INTERVALS_SCHEMA,
    TIME_US,
    TRACKPOINTS_SCHEMA,
)

WANTED = ("file_id", "record", "lap", "session", "hrv", "event", "sport", "monitoring", "monitoring_info")
SEMICIRCLE_TO_DEG = 180.0 / 2**31
RR_INVALID_S = 65.535  # 0xFFFF ms: padding / invalid
RR_OVERRUN_TOLERANCE_S = 5.0
MAX_FIT_DATA_BYTES = 256 << 20  # a header declaring more is damaged (real activities: < 20 MiB)
# What fitparse/fitdecode raise, besides their own error types, on bytes that contradict their layout
# (measured by fuzzing: AssertionError, "ValueError: size", TypeError, struct.error, ...).
LIBRARY_FAILURES = (
    AssertionError,
    ValueError,
    TypeError,
    struct.error,
    IndexError,
    KeyError,
    OverflowError,
    UnicodeDecodeError,
    ArithmeticError,
    EOFError,
    LookupError,
)

_RECORD_CONSUMED = {
    "timestamp",
    "position_lat",
    "position_long",
    "altitude",
    "enhanced_altitude",
    "distance",
    "heart_rate",
    "cadence",
    "speed",
    "enhanced_speed",
    "power",
    "temperature",
}
_LAP_CONSUMED = {
    "timestamp",
    "start_time",
    "total_timer_time",
    "total_elapsed_time",
    "total_distance",
    "max_speed",
    "enhanced_max_speed",
    "total_calories",
    "avg_heart_rate",
    "max_heart_rate",
    "intensity",
    "lap_trigger",
    "message_index",
    "event",
    "event_type",
    "event_group",
    "sport",
    "sub_sport",
}


@dataclass
class _Messages:
    by_name: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    n_data: int = 0

    def add(self, name: str, values: dict[str, Any]) -> None:
        self.n_data += 1
        if name in WANTED:
            self.by_name[name].append(values)

    def get(self, name: str) -> list[dict[str, Any]]:
        return self.by_name.get(name, [])


@dataclass(frozen=True)
class FitResult:
    activities: pa.Table
    laps: pa.Table
    trackpoints: pa.Table
    rr_intervals: pa.Table
    monitoring: pa.Table  # monitoring files (all-day heart rate, steps): decoders/fit_monitoring.py
    decoder: str  # "fitparse" | "fitdecode"
    decoder_version: str
    fallback_reason: str | None  # fitparse's error when fitdecode had to decode
    manufacturer: str | None
    product: str | None
    serial_number: str | None
    file_type: str | None
    crc_ok: bool | None  # None when the decoder that succeeded does not report it
    partial: bool
    n_segments: int | None
    warnings: tuple[str, ...]


# ------------------------------------------------------------------------------------- decoding
def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None  # FIT "system time" (< 0x10000000 s since power-on) has no calendar meaning
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _collect_fitparse(data: bytes) -> _Messages:
    msgs = _Messages()
    fit = fitparse.FitFile(io.BytesIO(data), check_crc=True)
    for message in fit.get_messages():  # parsing happens inside the library; we only keep values
        msgs.add(message.name, message.get_values())
    return msgs


@dataclass
class _FitdecodeRun:
    messages: _Messages
    n_segments: int
    crc_ok: bool
    warnings: list[str]
    error: DecodeError | None


def _collect_fitdecode(data: bytes) -> _FitdecodeRun:
    msgs = _Messages()
    notes: list[str] = []
    segments = seg_data = 0
    segment_at = 0  # byte offset of the current chained segment's header
    next_segment_at = 0  # byte offset where the next chained segment must start
    crc_ok = True
    error: DecodeError | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with fitdecode.FitReader(io.BytesIO(data), check_crc=fitdecode.CrcCheck.READONLY) as reader:
                for frame in reader:
                    if isinstance(frame, fitdecode.FitHeader):
                        segments += 1
                        seg_data = 0
                        segment_at = next_segment_at
                        next_segment_at = segment_at + frame.header_size + frame.body_size + 2
                        if frame.crc_matched is False:
                            crc_ok = False
                            notes.append(f"segment {segments} (byte {segment_at}): header CRC mismatch")
                    elif isinstance(frame, fitdecode.FitCRC):
                        if not frame.matched:
                            crc_ok = False
                            notes.append(
                                f"segment {segments}: file CRC mismatch (read 0x{frame.crc:04X}); "
                                f"all its messages parsed"
                            )
                    elif isinstance(frame, fitdecode.FitDataMessage):
                        seg_data += 1
                        msgs.add(frame.name, {f.name: f.value for f in frame.fields})
        except fitdecode.FitHeaderError as exc:
            if "truncated" in str(exc):
                error = DecodeError(
                    f"file ends inside the header of segment {segments + 1} (byte {next_segment_at}): {exc}",
                    code="truncated",
                )
            else:
                where = "" if segments == 0 else f" of chained segment {segments + 1}"
                error = DecodeError(
                    f"invalid FIT header{where} at byte {next_segment_at}: {exc}", code="invalid_header"
                )
        except fitdecode.FitEOFError as exc:
            if seg_data == 0:
                error = DecodeError(
                    f"no data: segment {segments} (byte {segment_at}) holds a header and "
                    f"no complete message; the file ends at byte {exc.offset + exc.got} "
                    f"({exc})",
                    code="no_data",
                )
            else:
                error = DecodeError(
                    f"truncated: segment {segments} (byte {segment_at}) ends early after {seg_data} messages ({exc})",
                    code="truncated",
                )
        except fitdecode.FitError as exc:
            error = DecodeError(f"malformed FIT data in segment {segments}: {exc}", code="malformed")
        except LIBRARY_FAILURES as exc:  # the library tripped over bytes it did not expect
            error = DecodeError(
                f"malformed FIT data in segment {segments}: fitdecode {type(exc).__name__}: {exc}", code="malformed"
            )
    notes.extend(f"fitdecode: {w.message}" for w in caught if "CRC" not in str(w.message))
    return _FitdecodeRun(msgs, segments, crc_ok, notes, error)


def decode_fit(data: bytes, *, source: str, allow_partial: bool = False, strict_crc: bool = False) -> FitResult:
    """FIT bytes -> tables, fitparse first, fitdecode when fitparse raises (see module doc)."""
    _check_declared_size(data)
    try:
        msgs = _collect_fitparse(data)
    except Exception as exc:  # noqa: BLE001 - any fitparse failure sends us to the fallback
        fallback_reason = f"fitparse {type(exc).__name__}: {exc}"
    else:
        _require_activity_data(msgs)
        return _build(
            msgs,
            source,
            decoder="fitparse",
            version=fitparse.__version__,
            fallback_reason=None,
            crc_ok=True,
            partial=False,
            n_segments=None,
            notes=[],
        )

    run = _collect_fitdecode(data)
    notes = run.warnings
    if run.error is not None:
        if run.messages.n_data == 0 or not _has_data(run.messages):
            raise run.error
        partial = _build(
            run.messages,
            source,
            decoder="fitdecode",
            version=fitdecode.__version__,
            fallback_reason=fallback_reason,
            crc_ok=run.crc_ok,
            partial=True,
            n_segments=run.n_segments,
            notes=notes + [f"PARTIAL: {run.error.reason}"],
        )
        if allow_partial:
            return partial
        raise DecodeError(run.error.reason, code=run.error.code, partial=partial)
    _require_activity_data(run.messages)
    result = _build(
        run.messages,
        source,
        decoder="fitdecode",
        version=fitdecode.__version__,
        fallback_reason=fallback_reason,
        crc_ok=run.crc_ok,
        partial=False,
        n_segments=run.n_segments,
        notes=notes,
    )
    if strict_crc and not run.crc_ok:
        raise DecodeError("FIT CRC mismatch (strict_crc)", code="crc_mismatch", partial=result)
    return result


def _check_declared_size(data: bytes) -> None:
    """Refuse a header that declares an absurd data size before any library reads it."""
    if len(data) >= 12 and data[0] >= 12:
        declared = int.from_bytes(data[4:8], "little")
        if declared > MAX_FIT_DATA_BYTES:
            raise DecodeError(
                f"FIT header declares {declared} bytes of data (limit {MAX_FIT_DATA_BYTES})", code="too_large"
            )


def _has_data(msgs: _Messages) -> bool:
    """Activity messages, or monitoring ones (a monitoring file has no record, lap or session)."""
    return any(msgs.get(n) for n in ("record", "lap", "session", "hrv", "monitoring"))


def _require_activity_data(msgs: _Messages) -> None:
    """A valid FIT that is neither an activity nor a monitoring file (settings, device...) gives nothing
    to these tables: say so instead of returning silently empty tables."""
    if msgs.n_data == 0:
        raise DecodeError("FIT file holds no data messages", code="no_data")
    if not _has_data(msgs):
        file_type = (msgs.get("file_id") or [{}])[0].get("type")
        raise DecodeError(
            f"no activity data: FIT file of type {file_type!r} has no record, lap, session, hrv or monitoring message",
            code="no_data",
        )


# ------------------------------------------------------------------------------------ tables
def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _int(value: Any) -> int | None:
    v = _num(value)
    return None if v is None else int(round(v))


def _first(values: dict[str, Any], *names: str) -> Any:
    for name in names:
        if values.get(name) is not None:
            return values[name]
    return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value).lower()


def _extensions(values: dict[str, Any], consumed: set[str]) -> list[tuple[str, float]] | None:
    """Other named numeric scalar fields (running dynamics, fractional cadence, dev fields...)."""
    out = [
        (k, float(v))
        for k, v in values.items()
        if k not in consumed
        and not k.startswith("unknown_")
        and "position" not in k
        and not k.endswith(("_lat", "_long"))
        and _num(v) is not None
    ]
    return out or None


def _to_us(times: list[datetime | None]) -> np.ndarray:
    """datetimes -> int64 us since epoch, NaT (min int64) for None."""
    nat = np.iinfo(np.int64).min
    return np.array(
        [nat if t is None else int(t.timestamp()) * 1_000_000 + t.microsecond for t in times], dtype=np.int64
    )


def _index_by_start(times_us: np.ndarray, starts_us: np.ndarray) -> np.ndarray:
    """Index of the last start <= t (rows before the first start go to 0; None times follow the
    previous row). Laps and sessions are assigned by time because FIT writes them AFTER their records."""
    if starts_us.size == 0:
        return np.zeros(times_us.size, dtype=np.int32)
    filled = np.maximum.accumulate(times_us) if times_us.size else times_us
    idx = np.searchsorted(starts_us, filled, side="right") - 1
    return np.clip(idx, 0, None).astype(np.int32)


def _build(
    msgs: _Messages,
    source: str,
    *,
    decoder: str,
    version: str,
    fallback_reason: str | None,
    crc_ok: bool | None,
    partial: bool,
    n_segments: int | None,
    notes: list[str],
) -> FitResult:
    notes = list(notes)
    file_id = msgs.get("file_id")[0] if msgs.get("file_id") else {}
    sessions = sorted(msgs.get("session"), key=lambda s: _utc(s.get("start_time")) or datetime.max.replace(tzinfo=UTC))
    laps = sorted(msgs.get("lap"), key=lambda s: _utc(s.get("start_time")) or datetime.max.replace(tzinfo=UTC))
    records = msgs.get("record")

    session_starts = _to_us([_utc(s.get("start_time")) for s in sessions])
    session_starts = session_starts[session_starts != np.iinfo(np.int64).min]
    lap_starts_all = _to_us([_utc(lap.get("start_time")) for lap in laps])
    lap_starts = lap_starts_all[lap_starts_all != np.iinfo(np.int64).min]

    # --- trackpoints
    rec_times = [_utc(r.get("timestamp")) for r in records]
    rec_us = _to_us(rec_times)
    lat = np.array([_num(r.get("position_lat")) for r in records], dtype=np.float64)
    lon = np.array([_num(r.get("position_long")) for r in records], dtype=np.float64)
    tp_columns = {
        "source": [source] * len(records),
        "activity_index": _index_by_start(rec_us, session_starts),
        "lap_index": _index_by_start(rec_us, lap_starts),
        "time": pa.array(rec_times, type=TIME_US),
        "latitude_deg": pa.array(lat * SEMICIRCLE_TO_DEG, from_pandas=True),  # NaN -> null
        "longitude_deg": pa.array(lon * SEMICIRCLE_TO_DEG, from_pandas=True),
        "altitude_m": [_num(_first(r, "enhanced_altitude", "altitude")) for r in records],
        "distance_m": [_num(r.get("distance")) for r in records],
        "heart_rate_bpm": [_int(r.get("heart_rate")) for r in records],
        "cadence": [_int(r.get("cadence")) for r in records],
        "speed_mps": [_num(_first(r, "enhanced_speed", "speed")) for r in records],
        "watts": [_int(r.get("power")) for r in records],
        "temperature_c": [_num(r.get("temperature")) for r in records],
        "extensions": [_extensions(r, _RECORD_CONSUMED) for r in records],
    }
    check_columns(
        tp_columns | {"latitude_deg": lat * SEMICIRCLE_TO_DEG, "longitude_deg": lon * SEMICIRCLE_TO_DEG}, "trackpoints"
    )
    trackpoints = pa.Table.from_pydict(tp_columns, schema=TRACKPOINTS_SCHEMA)

    # --- laps
    lap_columns = {
        "source": [source] * len(laps),
        "activity_index": _index_by_start(lap_starts_all, session_starts),
        "lap_index": np.arange(len(laps), dtype=np.int32),
        "start_time": pa.array([_utc(lap.get("start_time")) for lap in laps], type=TIME_US),
        "total_time_s": [_num(lap.get("total_timer_time")) for lap in laps],
        "elapsed_time_s": [_num(lap.get("total_elapsed_time")) for lap in laps],
        "distance_m": [_num(lap.get("total_distance")) for lap in laps],
        "max_speed_mps": [_num(_first(lap, "enhanced_max_speed", "max_speed")) for lap in laps],
        "calories": [_int(lap.get("total_calories")) for lap in laps],
        "avg_hr_bpm": [_int(lap.get("avg_heart_rate")) for lap in laps],
        "max_hr_bpm": [_int(lap.get("max_heart_rate")) for lap in laps],
        "intensity": [_text(lap.get("intensity")) for lap in laps],
        "trigger": [_text(lap.get("lap_trigger")) for lap in laps],
        "extensions": [_extensions(lap, _LAP_CONSUMED) for lap in laps],
    }
    check_columns(lap_columns, "laps")
    lap_table = pa.Table.from_pydict(lap_columns, schema=LAPS_SCHEMA)

    # --- activities (sessions); a file without sessions (cut short) still gets one row to join on
    sport_msg = msgs.get("sport")[0] if msgs.get("sport") else {}
    rows = sessions or (
        [
            {
                "start_time": next((t for t in rec_times if t), None),
                "sport": sport_msg.get("sport"),
                "sub_sport": sport_msg.get("sub_sport"),
            }
        ]
        if (records or laps)
        else []
    )
    if not sessions and rows:
        notes.append("no session message: one activity row synthesised from the records")
    activity_columns = {
        "source": [source] * len(rows),
        "activity_index": np.arange(len(rows), dtype=np.int32),
        "sport": [_text(s.get("sport")) for s in rows],
        "sub_sport": [_text(s.get("sub_sport")) for s in rows],
        "start_time": pa.array([_utc(s.get("start_time")) for s in rows], type=TIME_US),
        "total_time_s": [_num(s.get("total_timer_time")) for s in rows],
        "elapsed_time_s": [_num(s.get("total_elapsed_time")) for s in rows],
        "distance_m": [_num(s.get("total_distance")) for s in rows],
        "calories": [_int(s.get("total_calories")) for s in rows],
        "avg_hr_bpm": [_int(s.get("avg_heart_rate")) for s in rows],
        "max_hr_bpm": [_int(s.get("max_heart_rate")) for s in rows],
    }
    check_columns(activity_columns, "activities")
    activities = pa.Table.from_pydict(activity_columns, schema=ACTIVITIES_SCHEMA)

    rr_table = _rr_table(msgs, source, rec_times, sessions, file_id, session_starts, notes)
    monitoring = monitoring_table(
        msgs.get("monitoring"), msgs.get("monitoring_info"), source, _first_full_time(msgs, file_id), notes
    )
    if monitoring.num_rows == 0 and msgs.get("monitoring") and not (records or laps or sessions or rr_table.num_rows):
        raise DecodeError("monitoring file without heart rate, steps or activity values", code="no_data")

    manufacturer = file_id.get("manufacturer")
    product = _first(file_id, "garmin_product", "product", "favero_product")
    serial = file_id.get("serial_number")
    return FitResult(
        activities=activities,
        laps=lap_table,
        trackpoints=trackpoints,
        rr_intervals=rr_table,
        monitoring=monitoring,
        decoder=decoder,
        decoder_version=version,
        fallback_reason=fallback_reason,
        manufacturer=None if manufacturer is None else str(manufacturer),
        product=None if product is None else str(product),
        serial_number=None if serial is None else str(serial),
        file_type=_text(file_id.get("type")),
        crc_ok=crc_ok,
        partial=partial,
        n_segments=n_segments,
        warnings=tuple(notes),
    )


def _first_full_time(msgs: _Messages, file_id: dict[str, Any]) -> datetime | None:
    """The reference for monitoring timestamp_16 values before the first full monitoring timestamp."""
    for info in msgs.get("monitoring_info"):
        if _utc(info.get("timestamp")):
            return _utc(info["timestamp"])
    return _utc(file_id.get("time_created"))


def rr_anchor(
    msgs: _Messages, rec_times: list[datetime | None], sessions: list[dict[str, Any]], file_id: dict[str, Any]
) -> tuple[datetime | None, str]:
    """The instant the first RR interval starts from, and which rule chose it (module doc)."""
    for ev in msgs.get("event"):
        if ev.get("event") == "timer" and ev.get("event_type") == "start" and _utc(ev.get("timestamp")):
            return _utc(ev["timestamp"]), "first timer start event"
    for s in sessions:
        if _utc(s.get("start_time")):
            return _utc(s["start_time"]), "first session start_time"
    first_record = next((t for t in rec_times if t), None)
    if first_record:
        return first_record, "first record timestamp"
    return _utc(file_id.get("time_created")), "file_id time_created"


def _rr_table(
    msgs: _Messages,
    source: str,
    rec_times: list[datetime | None],
    sessions: list[dict[str, Any]],
    file_id: dict[str, Any],
    session_starts: np.ndarray,
    notes: list[str],
) -> pa.Table:
    hrv = msgs.get("hrv")
    values = [v for m in hrv for v in (m.get("time") if isinstance(m.get("time"), (tuple, list)) else (m.get("time"),))]
    rr = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    rr = rr[np.isfinite(rr) & (rr > 0) & (rr < RR_INVALID_S)]
    if rr.size == 0:
        return RR_INTERVALS_SCHEMA.empty_table()
    anchor, rule = rr_anchor(msgs, rec_times, sessions, file_id)
    if anchor is None:
        notes.append(f"{rr.size} RR intervals dropped: no timestamp to anchor them")
        return RR_INTERVALS_SCHEMA.empty_table()
    rr_ms = np.rint(rr * 1000).astype(np.int64)
    anchor_us = int(anchor.timestamp()) * 1_000_000 + anchor.microsecond
    beat_us = anchor_us + np.cumsum(rr_ms) * 1000
    last_known = max(
        [t for t in rec_times if t] + [_utc(s.get("timestamp")) for s in sessions if _utc(s.get("timestamp"))],
        default=None,
    )
    if last_known is not None:
        overrun = (beat_us[-1] / 1e6) - last_known.timestamp()
        if overrun > RR_OVERRUN_TOLERANCE_S:
            notes.append(
                f"RR beat times (anchored at the {rule}) run {overrun:.1f} s past the last "
                f"timestamped message: intervals are missing or spurious"
            )
    return pa.Table.from_pydict(
        {
            "source": [source] * rr.size,
            "activity_index": _index_by_start(beat_us, session_starts),
            "beat_index": np.arange(rr.size, dtype=np.int32),
            "time": pa.array(beat_us, type=pa.int64()).cast(TIME_US),
            "rr_s": rr_ms / 1000.0,
        },
        schema=RR_INTERVALS_SCHEMA,
    )
