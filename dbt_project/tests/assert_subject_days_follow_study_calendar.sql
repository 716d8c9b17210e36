-- fct_subject_day holds exactly one row per subject and local day of the subject's study calendar:
-- no duplicate, no gap, first and last days as dim_subject states them, inside the study dates when the
-- study calendar is known (HEXO_STUDY_START / HEXO_STUDY_END).
with per_subject as (
    select
        subject_id,
        count(*) as rows_n,
        count(distinct local_date) as days_n,
        min(local_date) as first_date,
        max(local_date) as last_date
    from {{ ref('fct_subject_day') }}
    group by subject_id
)

select s.subject_id, 'rows do not follow the calendar' as problem
from {{ ref('dim_subject') }} as s
left join per_subject as p on p.subject_id = s.subject_id
where s.study_days_n > 0
    and (
        p.subject_id is null
        or p.rows_n <> p.days_n
        or p.rows_n <> p.last_date - p.first_date + 1
        or p.rows_n <> s.study_days_n
        or p.first_date <> s.first_study_date
        or p.last_date <> s.last_study_date
        or p.first_date < coalesce({{ study_start_date() }}, p.first_date)
        or p.last_date > coalesce({{ study_last_date() }}, p.last_date)
    )
