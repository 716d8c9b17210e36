-- Additive RR-interval (HRV) and step statistics per chunk = (lake partition, record, local day), from
-- the lake's hrv_windows and steps_minutes (written at ingestion from the RR and step events).
-- RR: the intervals the RR quality channel marks reliable. Successive differences pair consecutive
-- detected beats of the same record that are both reliable (an unreliable beat in between breaks the
-- pair): the vendor's and the sandbox truth's definition. Pairs inside a 5-minute window are summed at
-- ingestion; the pair across two windows of a chunk is rebuilt here, and the pair across two chunks in
-- int_hrv__record_days and int_hrv__records, from each piece's first and last beat, so chunks, records
-- and local days get every pair exactly once. A UTC 5-minute window never straddles a local day.
-- Steps: one step event = one step.
{%- set pending = lake_incremental(['hrv_windows', 'steps_minutes'], local_time=true) %}
{%- set tz = "coalesce(s.timezone, " ~ study_timezone() ~ ")" %}
{%- set chunk = ['username', 'lake_date', 'record_id', 'local_date'] %}

with windows as (
    select
        w.*,
        {{ summary_local_date('w.window_at', tz, 'w.lake_date') }} as local_date
    from {{ lake_pending_ref('stg_lake__hrv_windows', 'hrv_windows', pending) }} as w
    left join {{ ref('int_subjects') }} as s on s.username = w.username
    {{ lake_pending_where(pending, 'w.username', 'w.lake_date') }}
),

rr_chunks as (
    {{ merge_rr_chunks('windows', chunk, chunk, boundaries=true, extra=['max(received_at) as chunk_received_at'],
                       reliable_sequence=true) }}
),

steps as (
    select
        st.username,
        st.lake_date,
        st.record_id,
        {{ summary_local_date('st.minute_at', tz, 'st.lake_date') }} as local_date,
        max(st.received_at) as chunk_received_at,
        sum(st.steps) as steps
    from {{ lake_pending_ref('stg_lake__steps_minutes', 'steps_minutes', pending) }} as st
    left join {{ ref('int_subjects') }} as s on s.username = st.username
    {{ lake_pending_where(pending, 'st.username', 'st.lake_date') }}
    group by all
)

select
    coalesce(rr.username, steps.username) as username,
    coalesce(rr.lake_date, steps.lake_date) as lake_date,
    coalesce(rr.record_id, steps.record_id) as record_id,
    coalesce(rr.local_date, steps.local_date) as local_date,
    max(greatest(rr.chunk_received_at, steps.chunk_received_at))
        over (partition by coalesce(rr.username, steps.username), coalesce(rr.lake_date, steps.lake_date))
        as lake_received_at,
    coalesce(rr.beats_n, 0) as beats_n,
    coalesce(rr.rr_n, 0) as rr_n,
    coalesce(rr.rr_sum, 0) as rr_sum,
    coalesce(rr.rr_sumsq, 0) as rr_sumsq,
    coalesce(rr.diff_n, 0) as diff_n,
    coalesce(rr.diff_sumsq, 0) as diff_sumsq,
    coalesce(rr.nn50_n, 0) as nn50_n,
    rr.first_beat_at,
    rr.first_rr_ms,
    rr.first_rr_is_reliable,
    rr.last_beat_at,
    rr.last_rr_ms,
    rr.last_rr_is_reliable,
    cast(coalesce(steps.steps, 0) as bigint) as steps,
    -- the vendor's RMSSD terms (reliable beats only, as one sequence) and their bridge to other chunks
    coalesce(rr.reliable_seq_diff_n, 0) as reliable_seq_diff_n,
    coalesce(rr.reliable_seq_diff_sumsq, 0) as reliable_seq_diff_sumsq,
    rr.first_reliable_rr_ms,
    rr.last_reliable_rr_ms,
    {{ tz }} as local_timezone
from rr_chunks as rr
full outer join steps
    on steps.username = rr.username
    and steps.lake_date = rr.lake_date
    and steps.record_id = rr.record_id
    and steps.local_date = rr.local_date
left join {{ ref('int_subjects') }} as s on s.username = coalesce(rr.username, steps.username)
