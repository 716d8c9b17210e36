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
    avg(worn_s) / 3600.0 as wear_hours_mean,
    avg(worn_s) filter (where has_data) / 3600.0 as wear_hours_mean_when_worn,
    avg(ratio_valid_minutes) as ratio_valid_minutes_mean,
    avg(ratio_valid_hours) as ratio_valid_hours_mean,
    cast(sum(events_scheduled) as bigint) as events_scheduled,
    cast(sum(events_done) as bigint) as events_done,
    case when sum(events_scheduled) > 0 then 100.0 * sum(events_done) / sum(events_scheduled) end as adherence_pct,
    count(*) filter (where survey_answered) as surveys_answered,
    avg(hr_mean_bpm) as hr_mean_bpm,
    avg(resting_hr_bpm) as resting_hr_bpm,
    avg(rmssd_ms) as rmssd_ms,
    avg(sdnn_ms) as sdnn_ms,
    avg(pnn50_pct) as pnn50_pct,
    avg(br_mean_rpm) as br_mean_rpm,
    avg(minute_ventilation_mean_l_min) as minute_ventilation_mean_l_min,
    avg(activity_mean_g) as activity_mean_g,
    avg(steps) as steps_mean,
    avg(sleep_s) filter (where sleep_s > 0) / 3600.0 as sleep_hours_mean,
    avg(spo2_mean_pct) as spo2_mean_pct,
    avg(temperature_mean_c) as temperature_mean_c
from {{ ref('fct_subject_day') }}
group by group_id, group_name, local_date
