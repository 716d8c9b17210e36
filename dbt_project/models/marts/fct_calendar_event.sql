-- One row per scheduled study event (planning expanded per subject and day), done or not.
select
    e.event_id,
    e.user_id as subject_id,
    s.username,
    e.event_date,
    e.event_name,
    e.is_done,
    e.done_by_kind,
    e.done_by_id,
    e.done_by,
    e.scheduled_kind,
    e.scheduled_resource_uri,
    e.scheduled_start_time,
    e.scheduled_end_time,
    s.current_group_id as group_id,
    s.current_group_name as group_name,
    e.received_at
from {{ ref('int_calendar_events') }} as e
left join {{ ref('dim_subject') }} as s on s.subject_id = e.user_id
