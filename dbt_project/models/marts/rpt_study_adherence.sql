-- One row per subject over the whole study: adherence, wear, data yield and physiological summaries.
with days as (
    select
        *,
        -- runs of consecutive days without data, for the longest gap
        local_date
        - cast(row_number() over (partition by subject_id, has_data order by local_date) as integer) as run_key
    from {{ ref('fct_subject_day') }}
),

gaps as (
    select subject_id, max(run_days) as longest_gap_days
    from (
        select subject_id, run_key, count(*) as run_days
        from days
        where not has_data
        group by all
    ) as runs
    group by subject_id
),

per_subject as (
    select
        subject_id,
        min(local_date) as first_study_date,
        max(local_date) as last_study_date,
        count(*) as days_enrolled,
        count(*) filter (where has_data) as days_with_data,
        count(*) filter (where is_valid_day) as valid_days,
        {{ exact_sum('worn_s') }} / 3600.0 as wear_hours_total,
        {{ exact_avg('worn_s') }} / 3600.0 as wear_hours_per_day,
        {{ exact_avg('worn_s', "has_data") }} / 3600.0 as wear_hours_per_worn_day,
        {{ exact_avg('ratio_valid_minutes') }} as ratio_valid_minutes_mean,
        {{ exact_avg('ratio_valid_hours') }} as ratio_valid_hours_mean,
        cast(sum(events_scheduled) as bigint) as events_scheduled,
        cast(sum(events_done) as bigint) as events_done,
        count(*) filter (where survey_answered) as survey_days_answered,
        {{ exact_avg('hr_mean_bpm') }} as hr_mean_bpm,
        median(resting_hr_bpm) as resting_hr_bpm,
        median(rmssd_ms) as rmssd_ms,
        median(sdnn_ms) as sdnn_ms,
        {{ exact_avg('br_mean_rpm') }} as br_mean_rpm,
        {{ exact_avg('activity_mean_g') }} as activity_mean_g,
        {{ exact_avg('steps', "has_data") }} as steps_per_worn_day,
        {{ exact_avg('sleep_s', "sleep_s > 0") }} / 3600.0 as sleep_hours_per_night,
        {{ exact_avg('spo2_mean_pct') }} as spo2_mean_pct,
        {{ exact_avg('temperature_mean_c') }} as temperature_mean_c
    from {{ ref('fct_subject_day') }}
    group by subject_id
)

select
    s.subject_id,
    s.username,
    s.subject_code,
    s.current_group_id as group_id,
    s.current_group_name as group_name,
    s.device_model,
    s.onboarding_date,
    p.first_study_date,
    p.last_study_date,
    p.days_enrolled,
    p.days_with_data,
    p.valid_days,
    100.0 * p.valid_days / p.days_enrolled as completeness_pct,
    p.wear_hours_total,
    p.wear_hours_per_day,
    p.wear_hours_per_worn_day,
    p.ratio_valid_minutes_mean,
    p.ratio_valid_hours_mean,
    coalesce(g.longest_gap_days, 0) as longest_gap_days,
    p.events_scheduled,
    p.events_done,
    case when p.events_scheduled > 0 then 100.0 * p.events_done / p.events_scheduled end as adherence_pct,
    p.survey_days_answered,
    p.hr_mean_bpm,
    p.resting_hr_bpm,
    p.rmssd_ms,
    p.sdnn_ms,
    p.br_mean_rpm,
    p.activity_mean_g,
    p.steps_per_worn_day,
    p.sleep_hours_per_night,
    p.spo2_mean_pct,
    p.temperature_mean_c
from {{ ref('dim_subject') }} as s
inner join per_subject as p on p.subject_id = s.subject_id
left join gaps as g on g.subject_id = s.subject_id
