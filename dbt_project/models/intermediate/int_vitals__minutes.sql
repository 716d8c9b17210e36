{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ lake_delete_pending('signals_vitals') }}",
) }}
-- The one model that reads the 1 Hz vitals: additive statistics per (lake partition, record, subject's
-- local day, UTC minute), about 60 times fewer rows than seconds. int_vitals__chunks (records, days,
-- resting heart rate) and int_vitals__hours (data yield) are merges of these minutes. Incremental: only
-- the lake partitions whose files changed since the model loaded them are read (macros/lake.sql); rows of
-- partitions re-ingested or removed are deleted first. A UTC minute never straddles a local day or hour
-- (time-zone offsets are whole minutes).
{%- set pending = lake_pending_partitions('signals_vitals', this) if is_incremental() else none %}
{%- set tz = "coalesce(s.timezone, " ~ study_timezone() ~ ")" %}

with samples as (
    select
        v.*,
        {{ local_ts('v.ts', tz) }} as local_at
    from {{ ref('stg_lake__vitals') }} as v
    left join {{ ref('int_subjects') }} as s on s.username = v.username
    {%- if is_incremental() %}
    where {{ lake_partition_filter(pending['load'], 'v.username', 'v.lake_date') }}
    {%- endif %}
),

minutes as (
    select
        username,
        lake_date,
        record_id,
        cast(local_at as date) as local_date,
        hour(local_at) as local_hour,
        date_trunc('minute', ts) as minute_at,
        max(received_at) as minute_received_at,
        min(ts) as first_ts,
        max(ts) as last_ts,
        count(*) as seconds_n,
        -- data yield: a heart-rate value not flagged DISCONNECTED (bit 2)
        count(*) filter (where heart_rate_bpm > 0 and not heart_rate_is_disconnected) as worn_samples_n,
        -- heart rate: clean = quality 0 and a value (the vendor's "clean data")
        count(*) filter (where heart_rate_bpm > 0) as hr_any_n,
        count(*) filter (where heart_rate_is_clean) as hr_clean_n,
        sum(heart_rate_bpm) filter (where heart_rate_is_clean) as hr_clean_sum,
        sum(heart_rate_bpm * heart_rate_bpm) filter (where heart_rate_is_clean) as hr_clean_sumsq,
        min(heart_rate_bpm) filter (where heart_rate_is_clean) as hr_clean_min,
        max(heart_rate_bpm) filter (where heart_rate_is_clean) as hr_clean_max,
        count(*) filter (where heart_rate_is_disconnected) as hr_disconnected_n,
        -- breathing: clean = breathing quality 0; ventilation and tidal volume share that flag
        count(*) filter (where breathing_is_clean) as br_clean_n,
        sum(breathing_rate_rpm) filter (where breathing_is_clean) as br_clean_sum,
        sum(breathing_rate_rpm * breathing_rate_rpm) filter (where breathing_is_clean) as br_clean_sumsq,
        min(breathing_rate_rpm) filter (where breathing_is_clean) as br_clean_min,
        max(breathing_rate_rpm) filter (where breathing_is_clean) as br_clean_max,
        count(*) filter (where breathing_is_clean and minute_ventilation_ml_min > 0) as mv_clean_n,
        sum(minute_ventilation_ml_min) filter (where breathing_is_clean and minute_ventilation_ml_min > 0) as mv_clean_sum,
        count(*) filter (where breathing_is_clean and tidal_volume_ml > 0) as tv_clean_n,
        sum(tidal_volume_ml) filter (where breathing_is_clean and tidal_volume_ml > 0) as tv_clean_sum,
        -- movement: every activity sample; cadence when walking or running (> 0)
        count(activity_g) as activity_n,
        sum(activity_g) as activity_sum,
        max(activity_g) as activity_max,
        count(*) filter (where cadence_spm > 0) as cadence_n,
        sum(cadence_spm) filter (where cadence_spm > 0) as cadence_sum
    from samples
    group by username, lake_date, record_id, local_date, local_hour, minute_at
)

select
    * exclude (minute_received_at),
    -- the lake file's received_at (one per partition), what change detection compares
    max(minute_received_at) over (partition by username, lake_date) as lake_received_at
from minutes
