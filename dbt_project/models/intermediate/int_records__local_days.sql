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
        {{ local_days_spanned('start_at', 'end_at', 'timezone') }} as d
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
