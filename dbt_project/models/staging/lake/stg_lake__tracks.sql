-- GPS tracks of ranges, with the distance the API computes.
-- An incremental table on the lake partitions (macros/incremental.sql, lake_source_rows).
{%- set pending = lake_incremental(['tracks']) %}

select
    track_id,
    user_id,
    range_id,
    subject as username,
    date as lake_date,
    start_at,
    end_at,
    distance_m,
    received_at,
    lake_received_at
from {{ lake_source_rows('tracks', pending) }}
