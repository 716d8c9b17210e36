-- One row per subject and study week (ISO weeks, Monday to Sunday, of the subject's local days):
-- wear, data yield, adherence to the calendar, survey compliance against the protocol's plan, and the
-- subject's weekly medians of the daily physiology. The study report reads its weekly figures here.
with days as (
    select
        d.*,
        cast(date_trunc('week', d.local_date) as date) as week_start
    from {{ ref('fct_subject_day') }} as d
),

study_has_surveys as (
    select count(*) > 0 as has_surveys from {{ ref('fct_survey_response') }}
),

weeks as (
    select
        subject_id,
        week_start,
        count(*) as days_enrolled,
        count(*) filter (where has_data) as days_with_data,
        count(*) filter (where is_valid_day) as valid_days,
        count(*) filter (where has_data and not is_valid_day) as partial_days,
        {{ exact_avg('worn_s') }} / 3600.0 as wear_hours_per_day,
        cast(sum(events_scheduled) as bigint) as events_scheduled,
        cast(sum(events_done) as bigint) as events_done,
        count(*) filter (where survey_answered) as survey_days_answered,
        max(local_date) filter (where has_data) as last_data_date,
        median(hr_mean_bpm) as hr_mean_bpm,
        median(resting_hr_bpm) as resting_hr_bpm,
        median(rmssd_ms) as rmssd_ms,
        median(sdnn_ms) as sdnn_ms,
        median(br_mean_rpm) as br_mean_rpm,
        median(steps) filter (where has_data) as steps_per_worn_day,
        median(sleep_s) filter (where sleep_s > 0) / 3600.0 as sleep_hours_per_night
    from days
    group by subject_id, week_start
)

select
    w.subject_id,
    s.username,
    coalesce(s.subject_code, s.username) as subject_label,
    s.current_group_name as group_name,
    w.week_start,
    w.days_enrolled,
    w.days_enrolled = 7 as is_full_week,
    w.days_with_data,
    w.valid_days,
    w.partial_days,
    w.wear_hours_per_day,
    w.events_scheduled,
    w.events_done,
    case when w.events_scheduled > 0 then 100.0 * w.events_done / w.events_scheduled end as adherence_pct,
    w.survey_days_answered,
    case when q.has_surveys then w.days_enrolled * {{ var('survey_days_per_week', 7) }} / 7.0 end
        as survey_days_expected,
    case
        when q.has_surveys
            then least(
                    100.0,
                    100.0 * w.survey_days_answered / (w.days_enrolled * {{ var('survey_days_per_week', 7) }} / 7.0)
                )
    end as survey_compliance_pct,
    w.last_data_date,
    w.hr_mean_bpm,
    w.resting_hr_bpm,
    w.rmssd_ms,
    w.sdnn_ms,
    w.br_mean_rpm,
    w.steps_per_worn_day,
    w.sleep_hours_per_night
from weeks as w
inner join {{ ref('dim_subject') }} as s on s.subject_id = w.subject_id
cross join study_has_surveys as q
