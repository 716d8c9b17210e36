-- One row per calendar event (the latest version fetched).
select * exclude (lake_received_at)
from {{ ref('stg_lake__calendar_events') }}
{{ latest_by(['event_id']) }}
