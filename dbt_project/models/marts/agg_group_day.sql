-- One row per group (the subjects' current group) and local day: enrolment, wear, data yield,
-- adherence and the physiological summaries, ready for a BI chart. Means are over the group's
-- subject-days of that date (a subject-day without the metric does not count).
select
    group_id,
    group_name,
    local_date,
    count(*) as subjects_enrolled,
    count(*) filter (where has_data) as subjects_with_data,
    count(*) filter (where is_valid_day) as subjects_valid_day,
    100.0 * count(*) filter (where is_valid_day) / count(*) as completeness_pct,
    {{ exact_avg('worn_s') }} / 3600.0 as wear_hours_mean,
    {{ exact_avg('worn_s', "has_data") }} / 3600.0 as wear_hours_mean_when_worn,
    {{ exact_avg('ratio_valid_minutes') }} as ratio_valid_minutes_mean,
    {{ exact_avg('ratio_valid_hours') }} as ratio_valid_hours_mean,
    cast(sum(events_scheduled) as bigint) as events_scheduled,
    cast(sum(events_done) as bigint) as events_done,
    case when sum(events_scheduled) > 0 then 100.0 * sum(events_done) / sum(events_scheduled) end as adherence_pct,
    count(*) filter (where survey_answered) as surveys_answered,
    {{ exact_avg('hr_mean_bpm') }} as hr_mean_bpm,
    {{ exact_avg('resting_hr_bpm') }} as resting_hr_bpm,
    {{ exact_avg('rmssd_ms') }} as rmssd_ms,
    {{ exact_avg('sdnn_ms') }} as sdnn_ms,
    {{ exact_avg('pnn50_pct') }} as pnn50_pct,
    {{ exact_avg('br_mean_rpm') }} as br_mean_rpm,
    {{ exact_avg('minute_ventilation_mean_l_min') }} as minute_ventilation_mean_l_min,
    {{ exact_avg('activity_mean_g') }} as activity_mean_g,
    {{ exact_avg('steps') }} as steps_mean,
    {{ exact_avg('sleep_s', "sleep_s > 0") }} / 3600.0 as sleep_hours_mean,
    {{ exact_avg('spo2_mean_pct') }} as spo2_mean_pct,
    {{ exact_avg('temperature_mean_c') }} as temperature_mean_c
from {{ ref('fct_subject_day') }}
group by group_id, group_name, local_date
