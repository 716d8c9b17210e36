-- One row per subject: the last var('attention_window_days') local days up to the as-of date (the
-- study's last local day with data, or var('attention_as_of')) against the study's thresholds, for the
-- "who needs attention this week" list. Thresholds are dbt vars (defaults in rpt_attention.yml).
with as_of as (
    select coalesce(
        try_cast(nullif('{{ var("attention_as_of", "") }}', '') as date),
        (
            select max(local_date) from {{ ref('fct_subject_day') }}
            where has_data
        ),
        (select max(local_date) from {{ ref('fct_subject_day') }})
    ) as as_of_date
),

in_window as (
    select d.*
    from {{ ref('fct_subject_day') }} as d
    cross join as_of as a
    where d.local_date <= a.as_of_date and d.local_date > a.as_of_date - {{ var('attention_window_days', 7) }}
),

study_has_surveys as (
    select count(*) > 0 as has_surveys from {{ ref('fct_survey_response') }}
),

per_subject as (
    select
        subject_id,
        count(*) as days_in_window,
        {{ exact_avg('worn_s') }} / 3600.0 as wear_hours_per_day,
        count(*) filter (where is_valid_day) as valid_days,
        cast(sum(events_scheduled) as bigint) as events_scheduled,
        cast(sum(events_done) as bigint) as events_done,
        count(*) filter (where survey_answered) as survey_days_answered
    from in_window
    group by subject_id
),

last_data as (
    select subject_id, max(local_date) as last_data_date
    from {{ ref('fct_subject_day') }}
    where has_data
    group by subject_id
),

measured as (
    select
        s.subject_id,
        s.username,
        coalesce(s.subject_code, s.username) as subject_label,
        s.current_group_name as group_name,
        a.as_of_date,
        a.as_of_date - {{ var('attention_window_days', 7) }} + 1 as window_start,
        coalesce(p.days_in_window, 0) as days_in_window,
        p.wear_hours_per_day,
        coalesce(p.valid_days, 0) as valid_days,
        coalesce(p.events_scheduled, 0) as events_scheduled,
        coalesce(p.events_done, 0) as events_done,
        case when p.events_scheduled > 0 then 100.0 * p.events_done / p.events_scheduled end as adherence_pct,
        coalesce(p.survey_days_answered, 0) as survey_days_answered,
        case
            when q.has_surveys and p.days_in_window > 0
                then least(
                        100.0, 100.0 * p.survey_days_answered
                        / (p.days_in_window * {{ var('survey_days_per_week', 7) }} / 7.0)
                    )
        end as survey_compliance_pct,
        l.last_data_date,
        {{ var('attention_window_days', 7) }} as window_days,
        cast({{ var('attention_min_wear_hours_per_day', 8) }} as double) as min_wear_hours_per_day,
        {{ var('attention_min_valid_days', 4) }} as min_valid_days,
        cast({{ var('attention_min_adherence_pct', 80) }} as double) as min_adherence_pct,
        cast({{ var('attention_min_survey_pct', 70) }} as double) as min_survey_pct
    from {{ ref('dim_subject') }} as s
    cross join as_of as a
    cross join study_has_surveys as q
    left join per_subject as p on p.subject_id = s.subject_id
    left join last_data as l on l.subject_id = s.subject_id
),

flagged as (
    select
        *,
        days_in_window > 0 and coalesce(wear_hours_per_day, 0) < min_wear_hours_per_day
            as low_wear,
        days_in_window > 0
        and valid_days < least(min_valid_days, days_in_window) as low_valid_days,
        coalesce(adherence_pct < min_adherence_pct, false) as low_adherence,
        coalesce(survey_compliance_pct < min_survey_pct, false) as low_survey_compliance
    from measured
)

select
    *,
    low_wear or low_valid_days or low_adherence or low_survey_compliance as needs_attention,
    concat_ws(
        ', ',
        case when low_wear then 'wear' end,
        case when low_valid_days then 'valid days' end,
        case when low_adherence then 'adherence' end,
        case when low_survey_compliance then 'surveys' end
    ) as attention_reasons
from flagged
