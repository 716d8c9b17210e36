{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ lake_delete_pending('signals_vitals') }}",
) }}
-- Additive 1 Hz vitals statistics per chunk = (lake partition, record, subject's local day): the minutes
-- of int_vitals__minutes merged, plus the chunk's resting heart rate. Records and local days are exact
-- merges of chunks (fct_record, fct_subject_day). Incremental on the same lake partitions as the minutes.
{%- set pending = lake_pending_partitions('signals_vitals', this) if is_incremental() else none %}

with minutes as (
    select *
    from {{ ref('int_vitals__minutes') }}
    {%- if is_incremental() %}
    where {{ lake_partition_filter(pending['load'], 'username', 'lake_date') }}
    {%- endif %}
),

sums as (
    select
        username,
        lake_date,
        record_id,
        local_date,
        max(lake_received_at) as lake_received_at,
        min(first_ts) as first_ts,
        max(last_ts) as last_ts,
        sum(seconds_n) as seconds_n,
        sum(hr_any_n) as hr_any_n,
        sum(hr_clean_n) as hr_clean_n,
        sum(hr_clean_sum) as hr_clean_sum,
        sum(hr_clean_sumsq) as hr_clean_sumsq,
        min(hr_clean_min) as hr_clean_min,
        max(hr_clean_max) as hr_clean_max,
        sum(hr_disconnected_n) as hr_disconnected_n,
        sum(br_clean_n) as br_clean_n,
        sum(br_clean_sum) as br_clean_sum,
        sum(br_clean_sumsq) as br_clean_sumsq,
        min(br_clean_min) as br_clean_min,
        max(br_clean_max) as br_clean_max,
        sum(mv_clean_n) as mv_clean_n,
        sum(mv_clean_sum) as mv_clean_sum,
        sum(tv_clean_n) as tv_clean_n,
        sum(tv_clean_sum) as tv_clean_sum,
        sum(activity_n) as activity_n,
        sum(activity_sum) as activity_sum,
        max(activity_max) as activity_max,
        sum(cadence_n) as cadence_n,
        sum(cadence_sum) as cadence_sum
    from minutes
    group by username, lake_date, record_id, local_date
),

-- Resting heart rate: the lowest rolling mean of the clean per-minute heart rate over
-- var('resting_hr_window_min') minutes with at least var('resting_hr_min_coverage_min') minutes of
-- clean data, within one record and one local day.
rolling as (
    select
        username,
        lake_date,
        record_id,
        local_date,
        avg(hr_clean_sum / nullif(hr_clean_n, 0)) over w as hr_rolling_bpm,
        count(nullif(hr_clean_n, 0)) over w as clean_minutes_n
    from minutes
    window w as (
        partition by username, lake_date, record_id, local_date
        order by minute_at
        range between interval ({{ var('resting_hr_window_min') }} - 1) minute preceding and current row
    )
),

resting as (
    select
        username,
        lake_date,
        record_id,
        local_date,
        min(hr_rolling_bpm) filter (where clean_minutes_n >= {{ var('resting_hr_min_coverage_min') }}) as resting_hr_bpm
    from rolling
    group by all
)

select
    sums.*,
    resting.resting_hr_bpm
from sums
left join resting using (username, lake_date, record_id, local_date)
