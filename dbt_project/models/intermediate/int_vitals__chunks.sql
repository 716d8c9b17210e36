-- Additive 1 Hz vitals statistics per chunk = (lake partition, record, subject's local day): the minutes
-- of int_vitals__minutes merged, plus the chunk's resting heart rate. Records and local days are exact
-- merges of chunks (fct_record, fct_subject_day). Incremental on the same lake partitions as the minutes.
{%- set pending = lake_incremental(['vitals_minutes'], local_time=true) %}
-- depends_on: {{ ref('int_subjects') }}

-- not materialized: read by two CTEs, and DuckDB would otherwise copy every row of it first
with minutes as not materialized (
    select *
    from {{ vitals_minutes_pending(pending) }}
    {{ lake_pending_where(pending, 'username', 'lake_date') }}
),

sums as (
    select
        username,
        lake_date,
        record_id,
        local_date,
        max(lake_received_at) as lake_received_at,
        max(local_timezone) as local_timezone,
        min(first_ts) as first_ts,
        max(last_ts) as last_ts,
        {{ merge_statistics(vitals_statistics()) }},
        min(hr_window_minute_means_sum / nullif(hr_window_clean_minutes_n, 0)) filter (
            where lake_day_is_local_day and hr_window_clean_minutes_n >= {{ var('resting_hr_min_coverage_min') }}
        ) as ingested_resting_hr_bpm
    from minutes
    group by username, lake_date, record_id, local_date
),

-- Resting heart rate: the lowest rolling mean of the clean per-minute heart rate over
-- resting_hr_window_min() minutes with at least var('resting_hr_min_coverage_min') minutes of clean data,
-- within one record and one local day. When the lake partition is the local day (the subject lives in the
-- study's time zone), the windows are vitals_minutes' hr_window_* columns, written at ingestion per record
-- and partition: part of the group-by above, no window function. Otherwise they are recomputed here, over
-- those subjects' minutes only (a window over every minute of the history would sort all of it).
recomputed as (
    select
        username,
        lake_date,
        record_id,
        local_date,
        avg(hr_clean_sum / nullif(hr_clean_n, 0)) over w as hr_rolling_bpm,
        count(nullif(hr_clean_n, 0)) over w as clean_minutes_n
    from minutes
    where not lake_day_is_local_day
    window w as (
        partition by username, lake_date, record_id, local_date
        order by minute_at
        range between interval ({{ resting_hr_window_min() }} - 1) minute preceding and current row
    )
),

recomputed_resting as (
    select
        username,
        lake_date,
        record_id,
        local_date,
        min(hr_rolling_bpm) filter (where clean_minutes_n >= {{ var('resting_hr_min_coverage_min') }}) as resting_hr_bpm
    from recomputed
    group by all
)

select
    sums.* exclude (ingested_resting_hr_bpm),
    coalesce(sums.ingested_resting_hr_bpm, recomputed_resting.resting_hr_bpm) as resting_hr_bpm
from sums
left join recomputed_resting using (username, lake_date, record_id, local_date)
