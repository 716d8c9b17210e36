-- Scheduled study events (the planning expanded per subject and day), with whether they were done and
-- what fulfilled them.
-- An incremental table on the lake partitions (macros/incremental.sql, lake_source_rows).
{%- set pending = lake_incremental(['calendar_events'], 'username', 'event_date') %}

select
    event_id,
    user_id,
    subject as username,
    date as event_date,
    name as event_name,
    coalesce(done, false) as is_done,
    done_by,
    case
        when done_by like '%/surveyresponse/%' then 'survey'
        when done_by like '%/range/%' then 'range'
    end as done_by_kind,
    try_cast(regexp_extract(done_by, '/([0-9]+)/?$', 1) as bigint) as done_by_id,
    resource_uri as scheduled_resource_uri,
    case
        when resource_uri like '%/survey/%' then 'survey'
        when resource_uri like '%/trainingroutine/%' then 'trainingroutine'
        when resource_uri like '%/activitytype/%' then 'activitytype'
        else 'other'
    end as scheduled_kind,
    start_time as scheduled_start_time,
    end_time as scheduled_end_time,
    received_at,
    lake_received_at
from {{ lake_source_rows('calendar_events', pending) }}
