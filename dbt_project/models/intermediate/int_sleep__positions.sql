-- Seconds in each sleep position during sleep ranges, per subject and local day. A position holds from
-- its event until the record's next position event (or the record's end); only the parts inside a sleep
-- range (activity category 'sleep') count.
{%- set subjects = subject_incremental() %}
with events as (
    select username, record_id, ts, position_code, position_name
    from {{ subject_ref('int_events__sleep_positions', subjects) }}
),

intervals as (
    select
        e.username,
        e.record_id,
        e.position_code,
        e.position_name,
        e.ts as position_start_at,
        coalesce(lead(e.ts) over (partition by e.record_id order by e.ts), r.end_at) as position_end_at
    from events as e
    left join {{ subject_ref('int_records', subjects) }} as r on r.record_id = e.record_id
),

sleep_pieces as (
    select username, range_id, local_date, piece_start_at, piece_end_at
    from {{ subject_ref('int_ranges__local_days', subjects) }}
    where activity_category = 'sleep'
)

select
    p.username,
    p.local_date,
    i.position_name,
    {{ exact_sum(overlap_s('i.position_start_at', 'i.position_end_at', 'p.piece_start_at', 'p.piece_end_at')) }}
        as position_s,
    count(*) filter (where i.position_start_at >= p.piece_start_at and i.position_start_at < p.piece_end_at)
        as position_events_n
from sleep_pieces as p
inner join intervals as i
    on i.username = p.username
    and i.position_start_at < p.piece_end_at
    and i.position_end_at > p.piece_start_at
where i.position_name is not null
group by all
