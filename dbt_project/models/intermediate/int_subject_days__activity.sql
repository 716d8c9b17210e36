-- Ranges per subject and local day by activity category (seconds inside the day), with the seconds in
-- each sleep position during sleep ranges.
with activities as (
    select
        user_id,
        username,
        local_date,
        count(*) filter (where activity_category <> 'sleep') as ranges_n,
        {{ exact_sum('overlap_s', "activity_category = 'sleep'") }} as sleep_s,
        count(*) filter (where activity_category = 'resting') as rest_ranges_n,
        {{ exact_sum('overlap_s', "activity_category = 'resting'") }} as resting_s,
        {{ exact_sum('overlap_s', "activity_category = 'lifestyle'") }} as lifestyle_s,
        {{ exact_sum('overlap_s', "activity_category = 'running'") }} as running_s,
        {{ exact_sum('overlap_s', "activity_category = 'cycling'") }} as cycling_s,
        {{ exact_sum('overlap_s', "activity_category = 'general sports'") }} as sports_s,
        {{ exact_sum('overlap_s', "activity_category = 'other'") }} as other_activity_s
    from {{ ref('int_ranges__local_days') }}
    group by all
),

positions as (
    select
        username,
        local_date,
        {{ exact_sum('position_s', "position_name = 'back'") }} as sleep_back_s,
        {{ exact_sum('position_s', "position_name = 'belly'") }} as sleep_belly_s,
        {{ exact_sum('position_s', "position_name = 'left'") }} as sleep_left_s,
        {{ exact_sum('position_s', "position_name = 'right'") }} as sleep_right_s,
        {{ exact_sum('position_s', "position_name = 'standing'") }} as sleep_standing_s,
        sum(position_events_n) as sleep_position_changes_n
    from {{ ref('int_sleep__positions') }}
    group by all
)

-- positions lie inside sleep ranges: every positions row has its activities row
select
    a.*,
    p.* exclude (username, local_date)
from activities as a
left join positions as p on p.username = a.username and p.local_date = a.local_date
