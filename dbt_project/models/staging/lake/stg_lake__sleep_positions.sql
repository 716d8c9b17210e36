-- Sleep-position events (datatype 270), written at ingestion beside the signals (docs/lake.md, Summary
-- datasets): the position from ts until the next event of the record.
select
    username,
    lake_date,
    record_id,
    ts,
    position_code,
    {{ sleep_position_name('position_code') }} as position_name,
    received_at
from ({{ lake_summary_rows('sleep_positions') }})
