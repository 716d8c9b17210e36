-- The sleep-position events (a few per night): int_sleep__positions turns them into intervals.
-- Incremental on the sleep_positions lake partitions.
{%- set pending = lake_incremental(['sleep_positions']) %}

select
    p.username,
    p.lake_date,
    p.record_id,
    p.ts,
    p.position_code,
    {{ sleep_position_name('p.position_code') }} as position_name,
    max(p.received_at) over (partition by p.username, p.lake_date) as lake_received_at
from {{ lake_pending_ref('stg_lake__sleep_positions', 'sleep_positions', pending) }} as p
{{ lake_pending_where(pending, 'p.username', 'p.lake_date') }}
