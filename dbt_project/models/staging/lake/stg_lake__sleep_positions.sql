-- Sleep-position events (datatype 270), written at ingestion beside the signals (docs/lake.md, Summary
-- datasets): the position from ts until the next event of the record.
select
    subject as username,
    date as lake_date,
    record_id,
    ts,
    position_code,
    case position_code
        when 1 then 'belly'
        when 2 then 'back'
        when 3 then 'right'
        when 4 then 'left'
        when 5 then 'standing'
    end as position_name,
    received_at
from {{ lake_relation('sleep_positions') }}
