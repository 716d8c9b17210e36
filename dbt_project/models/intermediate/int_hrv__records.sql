-- HRV sums and time-domain HRV per record: every chunk of the record merged, with the pairs across
-- lake partitions and local days, so the record's statistics are those of its whole RR series.
{%- set subjects = subject_incremental() %}
with merged as (
    {{ merge_rr_chunks(subject_ref('int_events__chunks', subjects), ['username', 'record_id'],
                       ['username', 'record_id'], extra=['cast(sum(steps) as bigint) as steps'], reliable_sequence=true) }}
)

select
    *,
    {{ hrv_columns() }}
from merged
