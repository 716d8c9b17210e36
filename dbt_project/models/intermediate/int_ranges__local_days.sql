-- Top-level ranges (rank 0; laps are parts of their range) split over the subject's local days.
with ranges as (
    select r.*, s.timezone
    from {{ ref('int_ranges') }} as r
    left join {{ ref('int_subjects') }} as s on s.user_id = r.user_id
    where r.range_rank = 0 and r.end_at > r.start_at
),

days as (
    select ranges.*, cast(d.day as date) as local_date
    from ranges,
        {{ local_days_spanned('start_at', 'end_at', 'timezone') }} as d
)

select
    range_id,
    user_id,
    username,
    activitytype_id,
    activity_category,
    local_date,
    start_at,
    end_at,
    greatest(start_at, {{ local_day_start('local_date', 'timezone') }}) as piece_start_at,
    least(end_at, {{ local_day_start('local_date + 1', 'timezone') }}) as piece_end_at,
    {{ overlap_s('start_at', 'end_at', local_day_start('local_date', 'timezone'),
                 local_day_start('local_date + 1', 'timezone')) }}
        as overlap_s
from days
