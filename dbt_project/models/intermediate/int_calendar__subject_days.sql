-- Study events scheduled and done per subject and local day (the calendar's own dates).
select
    user_id,
    event_date as local_date,
    count(*) as events_scheduled,
    count(*) filter (where is_done) as events_done
from {{ ref('int_calendar_events') }}
group by all
