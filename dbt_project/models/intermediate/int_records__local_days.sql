-- Each record split over the local days (the subject's time zone) it touches: seconds of record inside
-- each local day ([local midnight, next local midnight), 23 or 25 h on DST days).
with records as (
    select r.*, s.timezone
    from {{ ref('int_records') }} as r
    left join {{ ref('int_subjects') }} as s on s.user_id = r.user_id
),

days as (
    select
        records.*,
        cast(d.day as date) as local_date
    from records,
        lateral (
            select unnest(generate_series(
                cast({{ local_ts('start_at', 'timezone') }} as date),
                cast({{ local_ts('end_at - interval 1 microsecond', 'timezone') }} as date),
                interval 1 day
            )) as day
        ) as d
)

select
    record_id,
    user_id,
    username,
    timezone,
    local_date,
    {{ local_day_start('local_date', 'timezone') }} as local_day_start_at,
    {{ local_day_start('local_date + 1', 'timezone') }} as local_day_end_at,
    {{ overlap_s('start_at', 'end_at', local_day_start('local_date', 'timezone'),
                 local_day_start('local_date + 1', 'timezone')) }}
        as worn_s
from days
where end_at > start_at
