-- Monitoring FIT files (Garmin all-day heart rate and steps); deltas already per interval (lake.fit_monitoring).
-- An incremental table on the lake partitions (macros/incremental.sql, lake_source_rows).
{%- set pending = lake_incremental(['fit_monitoring'], 'lake_subject', 'lake_date') %}

select
    coalesce(subject_username, subject) as username,
    date as lake_date,
    timestamp as measured_at,
    utc_offset_s,
    activity_type,
    intensity,
    heart_rate_bpm,
    steps,
    steps_cumulative,
    cycles,
    cycles_cumulative,
    source as file_sha256,
    file_path,
    decoder,
    received_at,
    subject as lake_subject,
    lake_received_at
from {{ lake_source_rows('fit_monitoring', pending) }}
