-- Step events (datatype 52): one row per step, value = running step count of the record.
select
    subject as username,
    date as lake_date,
    record_id,
    cast(ts as timestamptz) as ts,
    value as record_step_count,
    received_at
from {{ lake_relation('signals_events') }}
where datatype_id = 52
