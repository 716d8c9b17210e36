"""Summary datasets written beside the signals: the additive per-minute / per-window statistics the dbt
intermediate models used to compute from every sample (contract: docs/lake.md, "Summary datasets").

Pure functions, no I/O except `write_summaries` / `rebuild_summaries`: long signal tables (ts, datatype_id,
value RAW, record_id[, received_at]) of one record or of a whole subject-day in, Arrow tables out.
Every statistic is grouped by record_id and a UTC time bucket, so summarising record by record and
concatenating (`concat_summaries`) gives exactly what summarising the whole subject-day gives.

The SQL they mirror (same float64 arithmetic, same filters):
- vitals_minutes: int_vitals__minutes over stg_lake__vitals (long rows pivoted per (record, ts) with
  max(value), physical = (raw - offset) * scale from the catalog, quality 0 = clean);
- hrv_windows: int_events__chunks' rr_chunks over stg_lake__rr_intervals, with a UTC 5-minute window
  in place of the chunk (successive differences only inside a window; dbt bridges windows with the
  first/last beat columns as the merge_rr_chunks macro does);
- steps_minutes: one step event = one step (stg_lake__steps);
- astroskin_minutes: int_astroskin__chunks over stg_lake__astroskin_vitals, per minute.
Timestamps are rounded to microseconds first, as the staging models' cast to timestamptz does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..hexoskin.datatypes import BY_ID, Family
from ..lake import SIGNAL_DATASETS, Lake
from ..lake.contract import (
    ASTROSKIN_MINUTES_SCHEMA,
    HRV_WINDOWS_SCHEMA,
    RESTING_HR_WINDOW_MINUTES,
    SLEEP_POSITIONS_SCHEMA,
    STEPS_MINUTES_SCHEMA,
    SUMMARY_SCHEMAS,
    VITALS_MINUTES_SCHEMA,
)

TS = pa.timestamp("us", tz="UTC")
US_PER_MINUTE = 60_000_000
US_PER_HRV_WINDOW = 5 * US_PER_MINUTE

# The signal family each summary reads, and the channels it needs (the pivots of the staging models).
SUMMARY_FAMILY: dict[str, Family] = {
    "vitals_minutes": Family.VITALS,
    "hrv_windows": Family.EVENTS,
    "steps_minutes": Family.EVENTS,
    "astroskin_minutes": Family.ASTROSKIN,
    "sleep_positions": Family.EVENTS,
}
VITALS_IDS = {"hr": 19, "hr_q": 1000, "br": 33, "br_q": 1001, "mv": 36, "tv": 37, "activity": 49, "cadence": 53}
RR_IDS = {"rr": 18, "rr_q": 1004}
STEP_ID = 52
SLEEP_POSITION_ID = 270
ASTROSKIN_IDS = {
    "spo2": 66,
    "spo2_q": 1002,
    "temperature": 81,
    "temperature_q": 1003,
    "systolic": 98,
    "systolic_q": 1005,
}
SUMMARY_INPUT_IDS: dict[Family, frozenset[int]] = {
    Family.VITALS: frozenset(VITALS_IDS.values()),
    Family.EVENTS: frozenset(RR_IDS.values()) | {STEP_ID, SLEEP_POSITION_ID},
    Family.ASTROSKIN: frozenset(ASTROSKIN_IDS.values()),
}


# ------------------------------------------------------------------------------------------ public
def summarize_signals(
    tables: Mapping[Family, pa.Table | None], received_at: datetime | None = None
) -> dict[str, pa.Table]:
    """The four summary tables of the long signal tables given (missing families give empty tables).

    `received_at` is stamped on every row; by default the max received_at of the input tables.
    """
    if received_at is None:
        stamps = [
            pc.max(t.column("received_at")).as_py()
            for t in tables.values()
            if t is not None and t.num_rows and "received_at" in t.column_names
        ]
        received_at = max(stamps) if stamps else None
    vitals, events, astro = (tables.get(f) for f in (Family.VITALS, Family.EVENTS, Family.ASTROSKIN))
    out = {
        "vitals_minutes": vitals_minutes(vitals),
        "hrv_windows": hrv_windows(events),
        "steps_minutes": steps_minutes(events),
        "astroskin_minutes": astroskin_minutes(astro),
        "sleep_positions": sleep_positions(events),
    }
    return {name: _stamp(table, received_at) for name, table in out.items()}


def concat_summaries(
    parts: Iterable[Mapping[str, pa.Table]], received_at: datetime | None = None
) -> dict[str, pa.Table]:
    """Summaries of several records as one table per dataset, sorted by (record_id, time), with one
    received_at (given, or the max of the parts'): equal to summarising all the records at once."""
    parts = list(parts)
    out = {}
    for name, schema in SUMMARY_SCHEMAS.items():
        tables = [p[name] for p in parts if name in p and p[name].num_rows]
        table = pa.concat_tables(tables) if tables else schema.empty_table()
        if len(tables) > 1:
            table = table.sort_by([("record_id", "ascending"), (schema.names[1], "ascending")])
        stamp = received_at
        if stamp is None and table.num_rows:
            stamp = pc.max(table.column("received_at")).as_py()
        out[name] = _stamp(table, stamp)
    return out


def write_summaries(lake: Lake, subject: str, day: date, summaries: Mapping[str, pa.Table]) -> dict[str, str]:
    """Replace the subject-day partition of each summary dataset (an empty table removes it); a file
    whose content is already identical is left alone. Returns dataset -> written/unchanged/removed."""
    status = {}
    for name in SUMMARY_SCHEMAS:
        table = summaries[name]
        existing = lake.read_partition(name, subject, day)  # a daily file or its day of a compacted month
        if not table.num_rows:
            status[name] = "unchanged" if existing is None else "removed"
        elif existing is not None and existing.replace_schema_metadata(None).equals(table):
            status[name] = "unchanged"
            continue
        else:
            status[name] = "written"
        if status[name] != "unchanged":
            lake.write_partition(name, subject, day, table if table.num_rows else None)
    return status


def rebuild_summaries(lake: Lake, subject: str, day: date) -> dict[str, str]:
    """Summaries of a subject-day recomputed from its signal files as they are in the lake (after a
    merge by import-export, or for a lake written before the summaries existed)."""
    tables = {}
    for family, ids in SUMMARY_INPUT_IDS.items():
        path = lake.partition_file(SIGNAL_DATASETS[family], subject, day)
        if path.exists():
            tables[family] = lake.read_file(path, filters=[("datatype_id", "in", sorted(ids))])
    return write_summaries(lake, subject, day, summarize_signals(tables))


# ------------------------------------------------------------------------------------ summaries
def vitals_minutes(table: pa.Table | None) -> pa.Table:
    """int_vitals__minutes per (record_id, UTC minute), without received_at."""
    p = _pivot(table, VITALS_IDS)
    if p is None:
        return _empty(VITALS_MINUTES_SCHEMA)
    rec, ts_us, raw, has = p
    hr, br = _physical(raw["hr"], 19), _physical(raw["br"], 33)
    mv, tv = _physical(raw["mv"], 36), _physical(raw["tv"], 37)
    act, cad = _physical(raw["activity"], 49), _physical(raw["cadence"], 53)
    hr_q, br_q = np.where(has["hr_q"], raw["hr_q"], 0), np.where(has["br_q"], raw["br_q"], 0)
    hr_clean = (hr_q == 0) & has["hr"] & (raw["hr"] > 0)
    hr_disconnected = (hr_q & 2) != 0
    hr_any = has["hr"] & (hr > 0)
    br_clean = (br_q == 0) & has["br"] & (raw["br"] > 0)
    mv_clean = br_clean & has["mv"] & (mv > 0)
    tv_clean = br_clean & has["tv"] & (tv > 0)
    cad_on = has["cadence"] & (cad > 0)
    act_nonzero = has["activity"] & (act != 0)
    g = _Groups(rec, ts_us // US_PER_MINUTE)
    hr_n, br_n = g.count(hr_clean), g.count(br_clean)
    act_n = g.count(has["activity"])
    mv_n, tv_n, cad_n = g.count(mv_clean), g.count(tv_clean), g.count(cad_on)
    columns = {
        "record_id": g.first(rec),
        "minute_at": _ts(g.key * US_PER_MINUTE),
        "first_ts": _ts(g.first(ts_us)),
        "last_ts": _ts(g.last(ts_us)),
        "seconds_n": g.size,
        "worn_samples_n": g.count(hr_any & ~hr_disconnected),
        "hr_any_n": g.count(hr_any),
        "hr_clean_n": hr_n,
        "hr_clean_sum": g.sum(hr, hr_clean, hr_n),
        "hr_clean_sumsq": g.sum(hr * hr, hr_clean, hr_n),
        "hr_clean_min": g.min(hr, hr_clean, hr_n),
        "hr_clean_max": g.max(hr, hr_clean, hr_n),
        "hr_disconnected_n": g.count(hr_disconnected),
        "br_clean_n": br_n,
        "br_clean_sum": g.sum(br, br_clean, br_n),
        "br_clean_sumsq": g.sum(br * br, br_clean, br_n),
        "br_clean_min": g.min(br, br_clean, br_n),
        "br_clean_max": g.max(br, br_clean, br_n),
        "mv_clean_n": mv_n,
        "mv_clean_sum": g.sum(mv, mv_clean, mv_n),
        "tv_clean_n": tv_n,
        "tv_clean_sum": g.sum(tv, tv_clean, tv_n),
        "activity_n": act_n,
        "activity_sum": g.sum(act, has["activity"], act_n),
        "activity_max": g.max(act, has["activity"], act_n),
        "cadence_n": cad_n,
        "cadence_sum": g.sum(cad, cad_on, cad_n),
        # the vendor's record statistics: every heart-rate sample (no quality filter), non-zero activity
        "hr_unfiltered_n": g.count(has["hr"]),
        "hr_unfiltered_sum": g.sum(hr, has["hr"], g.count(has["hr"])),
        "activity_nonzero_n": g.count(act_nonzero),
        "activity_nonzero_sum": g.sum(act, act_nonzero, g.count(act_nonzero)),
    }
    hr_sum = np.add.reduceat(np.where(hr_clean, hr, 0.0), g.starts)
    window_n, window_sum = _trailing_window(g.first(rec), g.key, hr_sum / np.maximum(hr_n, 1), hr_n > 0)
    columns["hr_window_clean_minutes_n"] = window_n
    columns["hr_window_minute_means_sum"] = _nullable(window_sum, window_n)
    return _table(VITALS_MINUTES_SCHEMA, columns)


def hrv_windows(table: pa.Table | None) -> pa.Table:
    """int_events__chunks' rr_chunks per (record_id, UTC 5-minute window), without received_at."""
    p = _pivot(table, RR_IDS)
    if p is None:
        return _empty(HRV_WINDOWS_SCHEMA)
    rec, ts_us, raw, has = p
    beat = has["rr"]  # stg_lake__rr_intervals keeps the rows with an RR value
    if not beat.all():
        rec, ts_us = rec[beat], ts_us[beat]
        raw = {k: v[beat] for k, v in raw.items()}
        has = {k: v[beat] for k, v in has.items()}
        if not rec.size:
            return _empty(HRV_WINDOWS_SCHEMA)
    rr = _physical(raw["rr"], 18) * 1000.0
    reliable = np.where(has["rr_q"], raw["rr_q"] == 0, (rr >= 300) & (rr <= 2000))
    g = _Groups(rec, ts_us // US_PER_HRV_WINDOW)
    # lag() over (record, window) ordered by ts: the previous beat, when it is in the same group.
    has_previous = np.ones(rec.size, dtype=bool)
    has_previous[g.starts] = False
    previous_reliable = np.concatenate(([False], reliable[:-1])) & has_previous
    diff = rr - np.concatenate(([0.0], rr[:-1]))
    pair = reliable & previous_reliable
    rr_n, diff_n = g.count(reliable), g.count(pair)
    columns = {
        "record_id": g.first(rec),
        "window_at": _ts(g.key * US_PER_HRV_WINDOW),
        "beats_n": g.size,
        "rr_n": rr_n,
        "rr_sum": g.sum(rr, reliable, rr_n),
        "rr_sumsq": g.sum(rr * rr, reliable, rr_n),
        "diff_n": diff_n,
        "diff_sumsq": g.sum(diff * diff, pair, diff_n),
        "nn50_n": g.count(pair & (np.abs(diff) > 50)),
        "first_beat_at": _ts(g.first(ts_us)),
        "first_rr_ms": g.first(rr),
        "first_rr_is_reliable": g.first(reliable),
        "last_beat_at": _ts(g.last(ts_us)),
        "last_rr_ms": g.last(rr),
        "last_rr_is_reliable": g.last(reliable),
        **_reliable_sequence(g, rr, reliable),
    }
    return _table(HRV_WINDOWS_SCHEMA, columns)


def _reliable_sequence(g: _Groups, rr: np.ndarray, reliable: np.ndarray) -> dict[str, pa.Array]:
    """The vendor's RMSSD terms per window: unreliable beats dropped first, then the successive differences
    of the kept sequence (a dropped beat joins its neighbours), plus the window's first and last kept RR so
    that dbt adds the difference across two windows (or chunks) exactly once."""
    group = np.repeat(np.arange(g.starts.size), g.size)[reliable]  # the window of each kept beat
    kept = rr[reliable]
    pair = group[1:] == group[:-1]
    n = np.bincount(group[1:][pair], minlength=g.starts.size).astype(np.int64)
    sumsq = np.bincount(group[1:][pair], weights=(kept[1:] - kept[:-1])[pair] ** 2, minlength=g.starts.size)
    kept_n = np.bincount(group, minlength=g.starts.size)
    first, last = np.zeros(g.starts.size), np.zeros(g.starts.size)
    if kept.size:  # `group` is sorted: a window's kept beats are one run
        first[group[np.r_[True, ~pair]]] = kept[np.r_[True, ~pair]]
        last[group[np.r_[~pair, True]]] = kept[np.r_[~pair, True]]
    return {
        "reliable_seq_diff_n": n,
        "reliable_seq_diff_sumsq": _nullable(sumsq, n),
        "first_reliable_rr_ms": _nullable(first, kept_n),
        "last_reliable_rr_ms": _nullable(last, kept_n),
    }


def steps_minutes(table: pa.Table | None) -> pa.Table:
    """Step events (one row = one step) per (record_id, UTC minute), without received_at."""
    if table is None or not table.num_rows:
        return _empty(STEPS_MINUTES_SCHEMA)
    ids = table.column("datatype_id").to_numpy()
    keep = ids == STEP_ID
    if not keep.any():
        return _empty(STEPS_MINUTES_SCHEMA)
    rec = table.column("record_id").to_numpy()[keep]
    ts_us = _ts_us(table)[keep]
    order = np.lexsort((ts_us, rec))
    rec, ts_us = rec[order], ts_us[order]
    g = _Groups(rec, ts_us // US_PER_MINUTE)
    columns = {"record_id": g.first(rec), "minute_at": _ts(g.key * US_PER_MINUTE), "steps": g.size}
    return _table(STEPS_MINUTES_SCHEMA, columns)


def sleep_positions(table: pa.Table | None) -> pa.Table:
    """The sleep-position events (one row each, sorted by record and time), without received_at."""
    if table is None or not table.num_rows:
        return _empty(SLEEP_POSITIONS_SCHEMA)
    keep = table.column("datatype_id").to_numpy() == SLEEP_POSITION_ID
    if not keep.any():
        return _empty(SLEEP_POSITIONS_SCHEMA)
    rec = table.column("record_id").to_numpy()[keep]
    ts_us = _ts_us(table)[keep]
    code = table.column("value").to_numpy()[keep].astype(np.int32)
    order = np.lexsort((ts_us, rec))
    columns = {"record_id": rec[order], "ts": _ts(ts_us[order]), "position_code": code[order]}
    return _table(SLEEP_POSITIONS_SCHEMA, columns)


def astroskin_minutes(table: pa.Table | None) -> pa.Table:
    """int_astroskin__chunks per (record_id, UTC minute), without received_at."""
    p = _pivot(table, ASTROSKIN_IDS)
    if p is None:
        return _empty(ASTROSKIN_MINUTES_SCHEMA)
    rec, ts_us, raw, has = p
    spo2, temp, systolic = _physical(raw["spo2"], 66), _physical(raw["temperature"], 81), _physical(raw["systolic"], 98)
    quality_ok = {k: ~has[f"{k}_q"] | (raw[f"{k}_q"] == 0) for k in ("spo2", "temperature", "systolic")}
    spo2_clean = has["spo2"] & (raw["spo2"] > 0) & quality_ok["spo2"]
    temp_clean = has["temperature"] & quality_ok["temperature"]
    sys_clean = has["systolic"] & (raw["systolic"] > 0) & quality_ok["systolic"]
    g = _Groups(rec, ts_us // US_PER_MINUTE)
    spo2_n, temp_n, sys_n = g.count(spo2_clean), g.count(temp_clean), g.count(sys_clean)
    columns = {
        "record_id": g.first(rec),
        "minute_at": _ts(g.key * US_PER_MINUTE),
        "spo2_clean_n": spo2_n,
        "spo2_clean_sum": g.sum(spo2, spo2_clean, spo2_n),
        "spo2_clean_min": g.min(spo2, spo2_clean, spo2_n),
        "spo2_clean_max": g.max(spo2, spo2_clean, spo2_n),
        "temperature_clean_n": temp_n,
        "temperature_clean_sum": g.sum(temp, temp_clean, temp_n),
        "temperature_clean_min": g.min(temp, temp_clean, temp_n),
        "temperature_clean_max": g.max(temp, temp_clean, temp_n),
        "systolic_clean_n": sys_n,
        "systolic_clean_sum": g.sum(systolic, sys_clean, sys_n),
    }
    return _table(ASTROSKIN_MINUTES_SCHEMA, columns)


# ------------------------------------------------------------------------------------- machinery
def _trailing_window(
    rec: np.ndarray, minute: np.ndarray, value: np.ndarray, has: np.ndarray, width: int = RESTING_HR_WINDOW_MINUTES
) -> tuple[np.ndarray, np.ndarray]:
    """Count and sum of `value` where `has`, over the rows of the same record whose minute lies in
    [minute - width + 1, minute]: SQL's `range between width - 1 preceding and current row` partitioned by
    record, on rows sorted by (record, minute). One row per minute, so a window holds at most `width` rows:
    `width` vectorised passes, one per lag. Not prefix sums: each window is summed from its own rows only,
    so summarising a record alone or within its subject-day gives bit-identical results."""
    counts = np.zeros(rec.size, dtype=np.int64)
    sums = np.zeros(rec.size)
    for lag in range(min(width, rec.size)):
        end, start = slice(lag, None), slice(None, rec.size - lag)
        inside = (rec[end] == rec[start]) & (minute[end] - minute[start] < width) & has[start]
        counts[end] += inside
        sums[end] += np.where(inside, value[start], 0.0)
    return counts, sums


class _Groups:
    """Consecutive runs of equal (record, bucket) in rows sorted by (record, ts): vectorised reductions."""

    def __init__(self, rec: np.ndarray, bucket: np.ndarray):
        new = np.ones(rec.size, dtype=bool)
        new[1:] = (rec[1:] != rec[:-1]) | (bucket[1:] != bucket[:-1])
        self.starts = np.flatnonzero(new)
        self.ends = np.append(self.starts[1:], rec.size) - 1
        self.key = bucket[self.starts]
        self.size = np.diff(np.append(self.starts, rec.size)).astype(np.int64)

    def first(self, x: np.ndarray) -> np.ndarray:
        return x[self.starts]

    def last(self, x: np.ndarray) -> np.ndarray:
        return x[self.ends]

    def count(self, mask: np.ndarray) -> np.ndarray:
        return np.add.reduceat(mask.astype(np.int64), self.starts)

    def sum(self, x: np.ndarray, mask: np.ndarray, n: np.ndarray) -> pa.Array:
        return _nullable(np.add.reduceat(np.where(mask, x, 0.0), self.starts), n)

    def min(self, x: np.ndarray, mask: np.ndarray, n: np.ndarray) -> pa.Array:
        return _nullable(np.minimum.reduceat(np.where(mask, x, np.inf), self.starts), n)

    def max(self, x: np.ndarray, mask: np.ndarray, n: np.ndarray) -> pa.Array:
        return _nullable(np.maximum.reduceat(np.where(mask, x, -np.inf), self.starts), n)


def _pivot(table: pa.Table | None, channels: Mapping[str, int]):
    """Long rows of `channels` -> one row per (record_id, ts), sorted, as the staging models pivot them
    (max(value) per channel). Returns (record_id, ts_us, raw values, presence masks) or None if empty."""
    if table is None or not table.num_rows:
        return None
    ids = table.column("datatype_id").to_numpy()
    keep = np.isin(ids, list(channels.values()))
    if not keep.any():
        return None
    ids = ids[keep]
    rec = table.column("record_id").to_numpy()[keep]
    ts = table.column("ts").cast(pa.int64()).to_numpy()[keep]  # the unit of the lake: ns
    values = table.column("value").to_numpy()[keep]
    order = np.lexsort((ts, rec))
    ids, rec, ts, values = ids[order], rec[order], ts[order], values[order]
    new = np.ones(rec.size, dtype=bool)
    new[1:] = (rec[1:] != rec[:-1]) | (ts[1:] != ts[:-1])
    group = np.cumsum(new) - 1
    n = int(group[-1]) + 1
    raw, has = {}, {}
    for name, dt_id in channels.items():
        m = ids == dt_id
        g, v = group[m], values[m]
        out = np.zeros(n, dtype=np.int64)
        present = np.zeros(n, dtype=bool)
        if g.size > 1 and not np.all(g[1:] > g[:-1]):  # a (record, ts) twice: max, as the pivot does
            out[:] = np.iinfo(np.int64).min
            np.maximum.at(out, g, v)
        else:
            out[g] = v
        present[g] = True
        raw[name], has[name] = out, present
    ts_unique = ts[new]
    return rec[new], _ns_to_us(ts_unique, table.column("ts").type), raw, has


def _ts_us(table: pa.Table) -> np.ndarray:
    return _ns_to_us(table.column("ts").cast(pa.int64()).to_numpy(), table.column("ts").type)


def _ns_to_us(ts: np.ndarray, ts_type: pa.DataType) -> np.ndarray:
    """The staging models' cast(ts as timestamptz): ns -> us, rounded half up as DuckDB does (a tick is
    3,906.25 us, so .25/.5/.75 us fractions occur; times are after 1970)."""
    unit = getattr(ts_type, "unit", "ns")
    return (ts + 500) // 1000 if unit == "ns" else ts


def _physical(raw: np.ndarray, datatype_id: int) -> np.ndarray:
    """The to_physical macro: (raw - offset) * scale, in float64."""
    dt = BY_ID[datatype_id]
    return (raw.astype(np.float64) - float(dt.offset)) * float(dt.scale)


def _nullable(values: np.ndarray, n: np.ndarray) -> pa.Array:
    return pa.array(values, type=pa.float64(), mask=n == 0)


def _ts(us: np.ndarray) -> pa.Array:
    return pa.array(us.astype(np.int64), type=pa.int64()).cast(TS)


def _table(schema: pa.Schema, columns: dict) -> pa.Table:
    n = len(columns["record_id"])
    arrays = [columns[f.name] if f.name in columns else pa.nulls(n, f.type) for f in schema]
    return pa.Table.from_arrays(
        [a if isinstance(a, pa.Array) else pa.array(a, type=f.type) for a, f in zip(arrays, schema)], schema=schema
    )


def _empty(schema: pa.Schema) -> pa.Table:
    return schema.empty_table()


def _stamp(table: pa.Table, received_at: datetime | None) -> pa.Table:
    """Set the one received_at of the file (the column exists and is null until stamped)."""
    i = table.schema.get_field_index("received_at")
    column = (
        pa.repeat(pa.scalar(received_at, TS), table.num_rows)
        if received_at is not None
        else pa.nulls(table.num_rows, TS)
    )
    return table.set_column(i, table.schema.field(i), column)


__all__ = [
    "ASTROSKIN_MINUTES_SCHEMA",
    "HRV_WINDOWS_SCHEMA",
    "STEPS_MINUTES_SCHEMA",
    "SUMMARY_FAMILY",
    "SUMMARY_INPUT_IDS",
    "SUMMARY_SCHEMAS",
    "VITALS_MINUTES_SCHEMA",
    "astroskin_minutes",
    "concat_summaries",
    "sleep_positions",
    "hrv_windows",
    "rebuild_summaries",
    "steps_minutes",
    "summarize_signals",
    "vitals_minutes",
    "write_summaries",
]
