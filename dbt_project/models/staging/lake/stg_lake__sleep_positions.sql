-- Sleep position events (datatype 270): the position from ts until the next event of the record.
select
    subject as username,
    date as lake_date,
    record_id,
    cast(ts as timestamptz) as ts,
    cast(value as integer) as position_code,
    case cast(value as integer)
        when 1 then 'belly'
        when 2 then 'back'
        when 3 then 'right'
        when 4 then 'left'
        when 5 then 'standing'
    end as position_name,
    received_at
from {{ lake_relation('signals_events') }}
where datatype_id = 270
