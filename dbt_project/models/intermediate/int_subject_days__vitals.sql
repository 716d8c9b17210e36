-- The 1 Hz vitals statistics per subject and local day (chunks merged; resting heart rate: the lowest
-- of the day's records), with the data yield: valid minutes and valid hours (at least
-- valid_hour_min_minutes valid minutes in the local hour).
{%- set subjects = subject_incremental() %}
with vitals as (
    select
        username,
        local_date,
        {{ merge_statistics(vitals_statistics()) }},
        min(resting_hr_bpm) as resting_hr_bpm
    from {{ subject_ref('int_vitals__chunks', subjects) }}
    group by all
),

hours as (
    select username, local_date, local_hour, sum(valid_minutes) as valid_minutes
    from {{ subject_ref('int_vitals__hours', subjects) }}
    group by all
),

yield as (
    select
        username,
        local_date,
        sum(valid_minutes) as valid_minutes,
        count(*) filter (where valid_minutes >= {{ valid_hour_min_minutes() }}) as valid_hours
    from hours
    group by all
)

select
    coalesce(v.username, y.username) as username,
    coalesce(v.local_date, y.local_date) as local_date,
    y.valid_minutes,
    y.valid_hours,
    v.* exclude (username, local_date)
from vitals as v
full outer join yield as y on y.username = v.username and y.local_date = v.local_date
