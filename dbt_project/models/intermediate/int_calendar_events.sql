-- One row per calendar event (the latest version fetched).
select *
from {{ ref('stg_lake__calendar_events') }}
qualify row_number() over (partition by event_id order by received_at desc nulls last) = 1
