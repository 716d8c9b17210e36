"""FIT `monitoring` messages (Garmin all-day tracking: heart rate, steps, intensity) -> one table.

A monitoring file (file_id type `monitoring_a`/`monitoring_b`/`monitoring_daily`) holds no record, lap or
session: the activity decoder (`fit.py`) reads it with the same libraries and the same bounds, collects
its `monitoring` and `monitoring_info` messages, and calls `monitoring_table`.

What the fields mean (FIT profile, Profile.xlsx as shipped in fitdecode/fitparse `profile.py`, message 55
`monitoring`; Garmin's FIT SDK "FIT File Types" description, monitoring files):
- `cycles` (field 3, scale 2) is "Accumulated cycles. Maintained by MonitoringReader for each
  activity_type": a running counter per activity type, not a count per message. Its subfield `steps`
  (scale 1) applies when activity_type is walking or running, `strokes` (scale 2) for cycling and
  swimming. The counters restart at the device's local midnight: GarminDB (tcgoetz, the monitoring
  importer) takes a day's steps as the day's maximum of each activity type's counter, summed over
  types, which holds only because they do; a decrease at any other time (a device reset) is handled
  the same way below.
- `current_activity_type_intensity` (field 24) packs activity_type (bits 0-4) and intensity (bits 5-7)
  for the time since the previous monitoring message; the libraries expand it into `activity_type` and
  `intensity`. When activity_type only comes from it, the libraries cannot pick the `steps` subfield and
  report `cycles` (raw / 2): for walking and running, steps = 2 x cycles.
- `timestamp_16` (field 26) is the low 16 bits of the FIT timestamp (s since 1989-12-31 UTC); heart-rate
  messages usually carry only it. The full time is the last full timestamp advanced to those 16 bits.
- `monitoring_info.local_timestamp` - `monitoring_info.timestamp` is the device's UTC offset, which says
  where its local midnight (the counters' reset) falls.

Per-interval deltas (`with_interval_deltas`, vectorised): rows of one counter are grouped by activity
type and device-local day and ordered by time; the first row of a group counts its whole value (counted
since midnight), the others the increase since the previous row; a decrease inside a day (a device
reset) restarts the count from the new value. The same sample seen twice (overlapping files) adds 0.
So a day's deltas sum to the day's final counter values even when the day's files arrive in pieces;
only the first interval of a day whose earlier rows are missing is too long (it carries them).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hexo_pipeline.decoders.plausible import check_columns
from hexo_pipeline.lake.contract import MONITORING_SCHEMA, TIME_US

FIT_EPOCH = datetime(1989, 12, 31, tzinfo=UTC)
STEP_TYPES = ("walking", "running")  # activity types whose counter is in steps (the `steps` subfield)
MAX_UTC_OFFSET_S = 14 * 3600


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if np.isfinite(value) else None


def _fit_seconds(t: datetime) -> int:
    return int((t - FIT_EPOCH).total_seconds())


def utc_offset_s(infos: list[dict[str, Any]], notes: list[str]) -> int | None:
    """The device's UTC offset from the first monitoring_info holding both times (local - UTC)."""
    for info in infos:
        ts, local = info.get("timestamp"), info.get("local_timestamp")
        if isinstance(ts, datetime) and isinstance(local, datetime):
            # local_timestamp is a wall-clock time: compare both as naive values
            offset = int((local.replace(tzinfo=None) - ts.replace(tzinfo=None)).total_seconds())
            if abs(offset) <= MAX_UTC_OFFSET_S:
                return offset
            notes.append(f"monitoring_info: local time {offset} s from UTC is not a time zone; offset ignored")
            return None
    return None


def monitoring_table(
    messages: list[dict[str, Any]],
    infos: list[dict[str, Any]],
    source: str,
    reference: datetime | None,
    notes: list[str],
) -> pa.Table:
    """The `monitoring` messages as rows (module doc); `reference` is the file's first full timestamp, for
    timestamp_16 values met before any monitoring message carries a full one."""
    offset = utc_offset_s(infos, notes)
    last = None if reference is None else _fit_seconds(reference)
    times: list[datetime] = []
    kinds: list[str | None] = []
    intensity: list[float | None] = []
    heart: list[float | None] = []
    steps: list[float | None] = []
    cycles: list[float | None] = []
    dropped = 0
    for m in messages:
        full = _utc(m.get("timestamp"))
        t16 = m.get("timestamp_16")
        if full is not None:
            last = _fit_seconds(full)
        elif isinstance(t16, int) and not isinstance(t16, bool) and last is not None:
            last += (t16 - last) & 0xFFFF
            full = FIT_EPOCH + timedelta(seconds=last)
        kind = m.get("activity_type")
        kind = None if kind is None else str(kind).lower()
        step_count = _num(m.get("steps"))
        cycle_count = _num(m.get("strokes"))
        raw_cycles = _num(m.get("cycles"))
        if raw_cycles is not None:
            if kind in STEP_TYPES:
                step_count = raw_cycles * 2  # the subfield was not resolved: steps = raw = 2 x cycles
            else:
                cycle_count = raw_cycles
        row = (_num(m.get("intensity")), _num(m.get("heart_rate")), step_count, cycle_count)
        if kind is None and all(v is None for v in row):
            continue  # nothing this table keeps (e.g. only active_time or calories)
        if full is None:
            dropped += 1
            continue
        times.append(full)
        kinds.append(kind)
        intensity.append(row[0])
        heart.append(row[1])
        steps.append(row[2])
        cycles.append(row[3])
    if dropped:
        notes.append(f"{dropped} monitoring messages dropped: no full timestamp before their timestamp_16")
    columns = {
        "heart_rate_bpm": heart,
        "steps_cumulative": steps,
        "cycles_cumulative": cycles,
        "intensity": intensity,
    }
    check_columns(columns, "monitoring")
    n = len(times)
    table = pa.Table.from_pydict(
        {
            "source": [source] * n,
            "timestamp": pa.array(times, type=TIME_US),
            "utc_offset_s": pa.array([offset] * n, type=pa.int32()),
            "activity_type": kinds,
            "intensity": intensity,
            "heart_rate_bpm": pa.array(heart, type=pa.float64()).cast(pa.int32()),
            "steps_cumulative": pa.array(steps, type=pa.float64()).cast(pa.int64()),
            "steps": pa.nulls(n, pa.int64()),
            "cycles_cumulative": cycles,
            "cycles": pa.nulls(n, pa.float64()),
        },
        schema=MONITORING_SCHEMA,
    )
    return with_interval_deltas(table)


def _local_days(table: pa.Table, tz: str | ZoneInfo) -> np.ndarray:
    """Device-local day number of each row: from its utc_offset_s, else from `tz`."""
    ts_us = table.column("timestamp").cast(pa.int64()).to_numpy(zero_copy_only=False)
    offset = table.column("utc_offset_s").cast(pa.float64()).to_numpy(zero_copy_only=False)
    unknown = np.isnan(offset)
    if unknown.any():
        zone = str(tz)
        local = pd.to_datetime(ts_us[unknown], unit="us", utc=True).tz_convert(zone)
        offset = offset.copy()
        offset[unknown] = local.tz_localize(None).as_unit("s").asi8 - ts_us[unknown] // 1_000_000
    return (ts_us // 1_000_000 + offset.astype(np.int64)) // 86_400


def _deltas(cumulative: np.ndarray, day: np.ndarray, kind: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Per-interval increase of a counter that is cumulative per (kind, day); NaN where no counter."""
    out = np.full(cumulative.size, np.nan)
    rows = np.flatnonzero(~np.isnan(cumulative))
    if rows.size == 0:
        return out
    order = rows[np.lexsort((ts[rows], day[rows], kind[rows]))]
    values = cumulative[order]
    first = np.ones(order.size, dtype=bool)
    first[1:] = (kind[order][1:] != kind[order][:-1]) | (day[order][1:] != day[order][:-1])
    step = np.empty_like(values)
    step[0] = values[0]
    step[1:] = values[1:] - values[:-1]
    out[order] = np.where(first | (step < 0), values, step)
    return out


def with_interval_deltas(table: pa.Table, tz: str | ZoneInfo = "UTC") -> pa.Table:
    """`steps` and `cycles` recomputed from the cumulative columns over all the table's rows (module doc).
    Rows without a utc_offset_s take their local day in `tz`."""
    if table.num_rows == 0:
        return table
    day = _local_days(table, tz)
    kind = pc.dictionary_encode(table.column("activity_type")).combine_chunks()
    codes = pc.fill_null(kind.indices, -1).to_numpy(zero_copy_only=False)
    ts = table.column("timestamp").cast(pa.int64()).to_numpy(zero_copy_only=False)
    for delta, cumulative, arrow_type in (
        ("steps", "steps_cumulative", pa.int64()),
        ("cycles", "cycles_cumulative", pa.float64()),
    ):
        values = table.column(cumulative).cast(pa.float64()).to_numpy(zero_copy_only=False)
        d = _deltas(values, day, codes, ts)
        column = pa.array(d, from_pandas=True).cast(arrow_type)
        table = table.set_column(table.schema.get_field_index(delta), table.schema.field(delta), column)
    return table
