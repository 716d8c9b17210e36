-- One row per calendar event (the latest version fetched).
select *
from {{ ref('stg_lake__calendar_events') }}
{{ latest_by(['event_id']) }}
