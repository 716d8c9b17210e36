-- HRV sums and time-domain HRV per record and local day: chunks of one record in one local day merged,
-- with the pair across two lake partitions of that day (a subject outside the study time zone).
-- A pair across local midnight belongs to neither day (pairs lie inside the day), as in the sandbox truth.
{%- set subjects = subject_incremental() %}
with merged as (
    {{ merge_rr_chunks(subject_ref('int_events__chunks', subjects), ['username', 'record_id', 'local_date'],
                       ['username', 'record_id', 'local_date'],
                       extra=['cast(sum(steps) as bigint) as steps']) }}
)

select
    *,
    {{ hrv_columns() }}
from merged
