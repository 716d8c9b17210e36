"""The four summary datasets of SUMMARIES.md (vitals_minutes, hrv_windows, steps_minutes, astroskin_minutes),
written from a lake's signals with DuckDB SQL.

A test helper: ingestion writes these datasets in Python; this SQL mirrors the dbt definitions the marts
used before they read summaries (the former stg_lake__vitals / stg_lake__rr_intervals / stg_lake__steps /
stg_lake__astroskin_vitals conversions and the per-chunk statistics of the intermediate models), so a
lake written by a test (synthetic.py, hand-made signals) gets the summaries the marts now read.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from hexo_pipeline.warehouse import DBT_PROJECT_DIR

SUMMARIES = ("vitals_minutes", "hrv_windows", "steps_minutes", "astroskin_minutes")
SOURCES = {"vitals_minutes": "signals_vitals", "hrv_windows": "signals_events", "steps_minutes": "signals_events",
           "astroskin_minutes": "signals_astroskin"}

# The conversions: the lake's catalog wins, the seed fills missing ids (stg_lake__datatypes).
CATALOG = """
create or replace temp table catalog_rows as
with lake as ({lake}),
seed as (
    select datatype_id, scale, "offset" from read_csv('{seed}', header = true)
    where datatype_id not in (select datatype_id from lake)
)
select * from lake union all select * from seed
"""


def _conversions(ids: list[int]) -> str:
    cols = ",\n".join(f"max(scale) filter (where datatype_id = {i}) as scale_{i}, "
                      f"max(\"offset\") filter (where datatype_id = {i}) as offset_{i}" for i in ids)
    return f"select {cols} from catalog_rows"


def _pivot(columns: dict[str, int]) -> str:
    return ",\n".join(f"max(value) filter (where datatype_id = {i}) as {name}" for name, i in columns.items())


def _phys(raw: str, i: int) -> str:
    return f"(({raw} - catalog.offset_{i}) * catalog.scale_{i})"


def _signals(lake: Path, dataset: str) -> str:
    return (f"read_parquet('{lake}/{dataset}/*/*/*.parquet', hive_partitioning = true, "
            "hive_types = {'subject': VARCHAR, 'date': DATE}, union_by_name = true)")


def _wide(lake: Path, dataset: str, columns: dict[str, int]) -> str:
    ids = ", ".join(str(i) for i in columns.values())
    return f"""
    file_received as (
        select subject, date, max(received_at) as file_received_at from {_signals(lake, dataset)} group by all
    ),
    wide as (
        select subject, date, record_id, ts, {_pivot(columns)}
        from {_signals(lake, dataset)}
        where datatype_id in ({ids})
        group by subject, date, record_id, ts
    )"""


def vitals_minutes_sql(lake: Path) -> str:
    wide = _wide(lake, "signals_vitals", {"hr_raw": 19, "hr_quality": 1000, "br_raw": 33, "br_quality": 1001,
                                          "mv_raw": 36, "tv_raw": 37, "activity_raw": 49, "cadence_raw": 53})
    return f"""
    with {wide},
    catalog as ({_conversions([19, 33, 36, 37, 49, 53])}),
    v as (
        select
            subject, date, record_id, cast(ts as timestamptz) as ts,
            {_phys('hr_raw', 19)} as heart_rate_bpm,
            (coalesce(hr_quality, 0) = 0 and hr_raw > 0) as heart_rate_is_clean,
            ((coalesce(hr_quality, 0) & 2) <> 0) as heart_rate_is_disconnected,
            {_phys('br_raw', 33)} as breathing_rate_rpm,
            (coalesce(br_quality, 0) = 0 and br_raw > 0) as breathing_is_clean,
            {_phys('mv_raw', 36)} as minute_ventilation_ml_min,
            {_phys('tv_raw', 37)} as tidal_volume_ml,
            {_phys('activity_raw', 49)} as activity_g,
            {_phys('cadence_raw', 53)} as cadence_spm
        from wide cross join catalog
    )
    select
        v.subject, v.date, record_id,
        date_trunc('minute', ts) as minute_at,
        min(ts) as first_ts,
        max(ts) as last_ts,
        count(*) as seconds_n,
        count(*) filter (where heart_rate_bpm > 0 and not heart_rate_is_disconnected) as worn_samples_n,
        count(*) filter (where heart_rate_bpm > 0) as hr_any_n,
        count(*) filter (where heart_rate_is_clean) as hr_clean_n,
        sum(heart_rate_bpm) filter (where heart_rate_is_clean) as hr_clean_sum,
        sum(heart_rate_bpm * heart_rate_bpm) filter (where heart_rate_is_clean) as hr_clean_sumsq,
        min(heart_rate_bpm) filter (where heart_rate_is_clean) as hr_clean_min,
        max(heart_rate_bpm) filter (where heart_rate_is_clean) as hr_clean_max,
        count(*) filter (where heart_rate_is_disconnected) as hr_disconnected_n,
        count(*) filter (where breathing_is_clean) as br_clean_n,
        sum(breathing_rate_rpm) filter (where breathing_is_clean) as br_clean_sum,
        sum(breathing_rate_rpm * breathing_rate_rpm) filter (where breathing_is_clean) as br_clean_sumsq,
        min(breathing_rate_rpm) filter (where breathing_is_clean) as br_clean_min,
        max(breathing_rate_rpm) filter (where breathing_is_clean) as br_clean_max,
        count(*) filter (where breathing_is_clean and minute_ventilation_ml_min > 0) as mv_clean_n,
        sum(minute_ventilation_ml_min) filter (where breathing_is_clean and minute_ventilation_ml_min > 0) as mv_clean_sum,
        count(*) filter (where breathing_is_clean and tidal_volume_ml > 0) as tv_clean_n,
        sum(tidal_volume_ml) filter (where breathing_is_clean and tidal_volume_ml > 0) as tv_clean_sum,
        count(activity_g) as activity_n,
        sum(activity_g) as activity_sum,
        max(activity_g) as activity_max,
        count(*) filter (where cadence_spm > 0) as cadence_n,
        sum(cadence_spm) filter (where cadence_spm > 0) as cadence_sum,
        any_value(f.file_received_at) as received_at
    from v join file_received as f using (subject, date)
    group by v.subject, v.date, record_id, minute_at
    """


def hrv_windows_sql(lake: Path) -> str:
    wide = _wide(lake, "signals_events", {"rr_raw": 18, "rr_quality": 1004})
    return f"""
    with {wide},
    catalog as ({_conversions([18])}),
    converted as (
        select subject, date, record_id, cast(ts as timestamptz) as ts, {_phys('rr_raw', 18)} * 1000.0 as rr_ms,
               rr_quality
        from wide cross join catalog
        where rr_raw is not null
    ),
    beats as (
        select
            *,
            case when rr_quality is not null then rr_quality = 0 else rr_ms between 300 and 2000 end
                as rr_is_reliable,
            time_bucket(interval 5 minute, ts) as window_at
        from converted
    ),
    paired as (
        select *, lag(rr_ms) over w as previous_rr_ms, lag(rr_is_reliable) over w as previous_is_reliable
        from beats
        window w as (partition by subject, date, record_id, window_at order by ts)
    )
    select
        p.subject, p.date, record_id, window_at,
        count(*) as beats_n,
        count(*) filter (where rr_is_reliable) as rr_n,
        sum(rr_ms) filter (where rr_is_reliable) as rr_sum,
        sum(rr_ms * rr_ms) filter (where rr_is_reliable) as rr_sumsq,
        count(*) filter (where rr_is_reliable and previous_is_reliable) as diff_n,
        sum((rr_ms - previous_rr_ms) ^ 2) filter (where rr_is_reliable and previous_is_reliable) as diff_sumsq,
        count(*) filter (where rr_is_reliable and previous_is_reliable and abs(rr_ms - previous_rr_ms) > 50) as nn50_n,
        min(ts) as first_beat_at,
        arg_min(rr_ms, ts) as first_rr_ms,
        arg_min(rr_is_reliable, ts) as first_rr_is_reliable,
        max(ts) as last_beat_at,
        arg_max(rr_ms, ts) as last_rr_ms,
        arg_max(rr_is_reliable, ts) as last_rr_is_reliable,
        any_value(f.file_received_at) as received_at
    from paired as p join file_received as f using (subject, date)
    group by p.subject, p.date, record_id, window_at
    """


def steps_minutes_sql(lake: Path) -> str:
    events = _signals(lake, "signals_events")
    return f"""
    with file_received as (
        select subject, date, max(received_at) as file_received_at from {events} group by all
    )
    select
        e.subject, e.date, record_id, date_trunc('minute', cast(ts as timestamptz)) as minute_at,
        count(*) as steps, any_value(f.file_received_at) as received_at
    from {events} as e join file_received as f using (subject, date)
    where datatype_id = 52
    group by e.subject, e.date, record_id, minute_at
    """


def astroskin_minutes_sql(lake: Path) -> str:
    wide = _wide(lake, "signals_astroskin", {"spo2_raw": 66, "spo2_quality": 1002, "temperature_raw": 81,
                                             "temperature_quality": 1003, "systolic_raw": 98, "systolic_quality": 1005})
    return f"""
    with {wide},
    catalog as ({_conversions([66, 81, 98])}),
    a as (
        select
            subject, date, record_id, cast(ts as timestamptz) as ts,
            {_phys('spo2_raw', 66)} as spo2_pct,
            (spo2_raw > 0 and coalesce(spo2_quality, 0) = 0) as spo2_is_clean,
            {_phys('temperature_raw', 81)} as temperature_c,
            (temperature_raw is not null and coalesce(temperature_quality, 0) = 0) as temperature_is_clean,
            {_phys('systolic_raw', 98)} as systolic_pressure_mmhg,
            (systolic_raw > 0 and coalesce(systolic_quality, 0) = 0) as systolic_pressure_is_clean
        from wide cross join catalog
    )
    select
        a.subject, a.date, record_id, date_trunc('minute', ts) as minute_at,
        count(*) filter (where spo2_is_clean) as spo2_clean_n,
        sum(spo2_pct) filter (where spo2_is_clean) as spo2_clean_sum,
        min(spo2_pct) filter (where spo2_is_clean) as spo2_clean_min,
        max(spo2_pct) filter (where spo2_is_clean) as spo2_clean_max,
        count(*) filter (where temperature_is_clean) as temperature_clean_n,
        sum(temperature_c) filter (where temperature_is_clean) as temperature_clean_sum,
        min(temperature_c) filter (where temperature_is_clean) as temperature_clean_min,
        max(temperature_c) filter (where temperature_is_clean) as temperature_clean_max,
        count(*) filter (where systolic_pressure_is_clean) as systolic_clean_n,
        sum(systolic_pressure_mmhg) filter (where systolic_pressure_is_clean) as systolic_clean_sum,
        any_value(f.file_received_at) as received_at
    from a join file_received as f using (subject, date)
    group by a.subject, a.date, record_id, minute_at
    """


QUERIES = {"vitals_minutes": vitals_minutes_sql, "hrv_windows": hrv_windows_sql, "steps_minutes": steps_minutes_sql,
           "astroskin_minutes": astroskin_minutes_sql}


def write_summaries_with_sql(lake_root: str | Path) -> None:
    """(Re)write the four summary datasets of the lake at lake_root from its signals (subject-day layout)."""
    lake = Path(lake_root)
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        datatypes = lake / "datatypes" / "data.parquet"
        lake_catalog = (f"select datatype_id, scale, \"offset\" from read_parquet('{datatypes}')" if datatypes.exists()
                        else "select 0 as datatype_id, 0.0 as scale, 0.0 as \"offset\" where false")
        con.execute(CATALOG.format(lake=lake_catalog, seed=DBT_PROJECT_DIR / "seeds" / "datatype_catalog.csv"))
        for name, query in QUERIES.items():
            shutil.rmtree(lake / name, ignore_errors=True)
            if not any((lake / SOURCES[name]).glob("*/*/*.parquet")):
                continue
            con.execute(f"copy ({query(lake)}) to '{lake / name}' "
                        "(format parquet, partition_by (subject, date), filename_pattern 'part-{i}')")
    finally:
        con.close()
