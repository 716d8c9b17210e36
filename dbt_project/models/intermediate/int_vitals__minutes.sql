-- The 1 Hz vitals statistics per (lake partition, record, UTC minute) of the lake's vitals_minutes
-- (written at ingestion), placed in the subject's local day and hour. int_vitals__chunks (records,
-- days, resting heart rate) and int_vitals__hours (data yield) are merges of these minutes. A UTC
-- minute never straddles a local day or hour (time-zone offsets are whole multiples of 15 minutes).
-- A view, not a table: its readers are incremental on the lake partitions, and a copy of every minute of
-- the history in the warehouse would make each build's cost and the state file grow with it.
{{ config(materialized='view') }}
{%- set local_at = local_ts('m.minute_at', "coalesce(s.timezone, " ~ study_timezone() ~ ")") %}

select
    m.username,
    m.lake_date,
    m.record_id,
    cast({{ local_at }} as date) as local_date,
    hour({{ local_at }}) as local_hour,
    m.minute_at,
    m.* exclude (username, lake_date, record_id, minute_at, received_at),
    -- Lake partitions are the study time zone's days: for a subject living in it, the partition is the
    -- local day, and the windows written at ingestion (hr_window_*) are the local day's (int_vitals__chunks)
    coalesce(s.timezone, {{ study_timezone() }}) = {{ study_timezone() }} as lake_day_is_local_day,
    -- the lake file's received_at (one per partition), what change detection compares
    m.received_at as lake_received_at
from {{ ref('stg_lake__vitals_minutes') }} as m
left join {{ ref('int_subjects') }} as s on s.username = m.username
