-- The calendar of the study per subject: one row per subject and local day (the subject's time zone)
-- from the first to the last day the subject is in the study, days without data included.
--   first day: onboarding date (study membership), else the study start (HEXO_STUDY_START, else the
--              study table), else the subject's first local day with a record;
--   last day:  the membership end or the study's last day (HEXO_STUDY_END is exclusive, else the study
--              table's end_date, inclusive), whichever comes
--              first, but never a day that has not ended yet (today in the subject's zone) unless it has
--              data; with no end known (an ongoing study, an import), the cohort's last day with data, so
--              a subject who stopped wearing the garment gets the days the others still have.
with data_days as (
    select user_id, min(local_date) as first_data_date, max(local_date) as last_data_date
    from {{ ref('int_records__local_days') }}
    group by user_id
),

cohort as (
    select max(local_date) as last_data_date
    from {{ ref('int_records__local_days') }}
),

study as (
    select start_date, end_date
    from {{ ref('stg_lake__study') }}
    {{ latest_by() }}
),

bounds as (
    select
        s.user_id,
        s.username,
        s.timezone,
        coalesce(s.onboarding_date, {{ study_start_date() }}, study.start_date, d.first_data_date) as first_date,
        least(s.membership_end_date, coalesce({{ study_last_date() }}, study.end_date)) as planned_last_date,
        greatest(d.last_data_date, cast({{ local_ts('now()', 's.timezone') }} as date) - 1) as observed_last_date,
        greatest(d.last_data_date, cohort.last_data_date) as cohort_last_date
    from {{ ref('int_subjects') }} as s
    left join data_days as d on d.user_id = s.user_id
    cross join cohort
    left join study on true
),

spans as (
    select
        *,
        case
            when planned_last_date is null then cohort_last_date
            else least(planned_last_date, observed_last_date)
        end as last_date
    from bounds
    where first_date is not null
)

select
    user_id,
    username,
    timezone,
    cast(d.day as date) as local_date,
    first_date,
    last_date,
    cast(d.day as date) - first_date + 1 as study_day
from spans,
    lateral (select unnest(generate_series(first_date, last_date, interval 1 day)) as day) as d
where last_date >= first_date
