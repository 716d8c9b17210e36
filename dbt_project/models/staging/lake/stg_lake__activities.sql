-- Activities of landed TCX/FIT files (range exports carry range_id).
-- An incremental table on the lake partitions (macros/incremental.sql, lake_source_rows).
{%- set pending = lake_incremental(['activities'], 'lake_subject', 'lake_date') %}

select
    source as file_sha256,
    activity_index,
    coalesce(subject_username, subject) as username,
    date as lake_date,
    source_kind,
    range_id,
    format as file_format,
    sport,
    sub_sport,
    start_time as start_at,
    total_time_s,
    elapsed_time_s,
    distance_m,
    calories,
    avg_hr_bpm,
    max_hr_bpm,
    file_path,
    received_at,
    subject as lake_subject,
    lake_received_at
from {{ lake_source_rows('activities', pending) }}
