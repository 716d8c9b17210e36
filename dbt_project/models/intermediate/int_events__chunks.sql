{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ lake_delete_pending('signals_events') }}",
) }}
-- Additive RR-interval (HRV) and step statistics per chunk = (lake partition, record, local day).
-- RR: the intervals the RR quality channel marks reliable. Successive differences pair consecutive
-- detected beats of the same record that are both reliable (an unreliable beat in between breaks the
-- pair): the vendor's and the sandbox truth's definition. Pairs inside a chunk are summed here; the pair
-- across two chunks is rebuilt from each chunk's first and last beat (int_hrv__record_days,
-- int_hrv__records), so records and local days get every pair exactly once.
-- Steps: one step event = one step. Incremental like int_vitals__chunks.
{%- set pending = lake_pending_partitions('signals_events', this) if is_incremental() else none %}
{%- set tz = "coalesce(s.timezone, " ~ study_timezone() ~ ")" %}

with beats as (
    select
        rr.username,
        rr.lake_date,
        rr.record_id,
        rr.ts,
        rr.rr_ms,
        rr.rr_is_reliable,
        cast({{ local_ts('rr.ts', tz) }} as date) as local_date,
        rr.received_at
    from {{ ref('stg_lake__rr_intervals') }} as rr
    left join {{ ref('int_subjects') }} as s on s.username = rr.username
    {%- if is_incremental() %}
    where {{ lake_partition_filter(pending['load'], 'rr.username', 'rr.lake_date') }}
    {%- endif %}
),

paired as (
    select
        *,
        lag(rr_ms) over chunk as previous_rr_ms,
        lag(rr_is_reliable) over chunk as previous_is_reliable,
        row_number() over chunk as beat_number
    from beats
    window chunk as (partition by username, lake_date, record_id, local_date order by ts)
),

rr_chunks as (
    select
        username,
        lake_date,
        record_id,
        local_date,
        max(received_at) as chunk_received_at,
        count(*) as beats_n,
        count(*) filter (where rr_is_reliable) as rr_n,
        sum(rr_ms) filter (where rr_is_reliable) as rr_sum,
        sum(rr_ms * rr_ms) filter (where rr_is_reliable) as rr_sumsq,
        count(*) filter (where rr_is_reliable and previous_is_reliable) as diff_n,
        sum((rr_ms - previous_rr_ms) ^ 2) filter (where rr_is_reliable and previous_is_reliable) as diff_sumsq,
        count(*) filter (where rr_is_reliable and previous_is_reliable and abs(rr_ms - previous_rr_ms) > 50) as nn50_n,
        min(ts) as first_beat_at,
        arg_min(rr_ms, ts) as first_rr_ms,
        arg_min(rr_is_reliable, ts) as first_rr_is_reliable,
        max(ts) as last_beat_at,
        arg_max(rr_ms, ts) as last_rr_ms,
        arg_max(rr_is_reliable, ts) as last_rr_is_reliable
    from paired
    group by username, lake_date, record_id, local_date
),

step_events as (
    select
        st.username,
        st.lake_date,
        st.record_id,
        cast({{ local_ts('st.ts', tz) }} as date) as local_date,
        st.received_at
    from {{ ref('stg_lake__steps') }} as st
    left join {{ ref('int_subjects') }} as s on s.username = st.username
    {%- if is_incremental() %}
    where {{ lake_partition_filter(pending['load'], 'st.username', 'st.lake_date') }}
    {%- endif %}
),

steps as (
    select username, lake_date, record_id, local_date, max(received_at) as chunk_received_at, count(*) as steps
    from step_events
    group by username, lake_date, record_id, local_date
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
    coalesce(steps.steps, 0) as steps
from rr_chunks as rr
full outer join steps
    on steps.username = rr.username
    and steps.lake_date = rr.lake_date
    and steps.record_id = rr.record_id
    and steps.local_date = rr.local_date
