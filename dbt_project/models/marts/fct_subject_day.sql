-- One row per subject and local day (the subject's time zone) of the study, days without data included:
-- the calendar joined to the per-day intermediate models. Every metric's definition (samples,
-- denominator, unit) is in fct_subject_day.yml.
{%- set subjects = subject_incremental() %}
with spine as (
    select
        d.*,
        {{ local_day_start('d.local_date', 'd.timezone') }} as day_start_at,
        {{ local_day_start('d.local_date + 1', 'd.timezone') }} as day_end_at
    from {{ subject_ref('int_subject_days', subjects) }} as d
)

select
    -- keys
    s.user_id as subject_id,
    s.username,
    s.local_date,
    s.timezone,
    s.study_day,
    dayname(s.local_date) as weekday,
    subj.current_group_id as group_id,
    subj.current_group_name as group_name,
    -- wear and data yield
    coalesce(w.worn_s, 0) as worn_s,
    coalesce(w.records_n, 0) as records_n,
    coalesce(w.worn_s, 0) > 0 as has_data,
    epoch(s.day_end_at) - epoch(s.day_start_at) as day_length_s,
    cast(coalesce(v.valid_minutes, 0) as bigint) as valid_minutes,
    coalesce(v.valid_hours, 0) as valid_hours,
    coalesce(v.valid_minutes, 0) / ((epoch(s.day_end_at) - epoch(s.day_start_at)) / 60.0) as ratio_valid_minutes,
    coalesce(v.valid_hours, 0) / round((epoch(s.day_end_at) - epoch(s.day_start_at)) / 3600.0) as ratio_valid_hours,
    coalesce(v.valid_minutes, 0) >= {{ valid_day_min_minutes() }} as is_valid_day,
    -- heart rate
    v.hr_clean_sum / nullif(v.hr_clean_n, 0) as hr_mean_bpm,
    v.hr_clean_min as hr_min_bpm,
    v.hr_clean_max as hr_max_bpm,
    case
        when v.hr_clean_n > 1
            then sqrt(greatest((v.hr_clean_sumsq - v.hr_clean_sum ^ 2 / v.hr_clean_n) / (v.hr_clean_n - 1), 0))
    end
        as hr_sd_bpm,
    v.resting_hr_bpm,
    cast(coalesce(v.hr_clean_n, 0) as bigint) as hr_clean_n,
    v.hr_clean_n / nullif(v.hr_any_n, 0) as hr_clean_ratio,
    -- heart rate variability (reliable RR)
    cast(coalesce(h.rr_n, 0) as bigint) as rr_clean_n,
    case when h.rr_n > 0 then h.rr_sum / h.rr_n end as mean_nn_ms,
    case when h.rr_n > 1 then sqrt(greatest((h.rr_sumsq - h.rr_sum ^ 2 / h.rr_n) / (h.rr_n - 1), 0)) end as sdnn_ms,
    case when h.diff_n > 0 then sqrt(h.diff_sumsq / h.diff_n) end as rmssd_ms,
    case when h.diff_n > 0 then 100.0 * h.nn50_n / h.diff_n end as pnn50_pct,
    -- breathing
    v.br_clean_sum / nullif(v.br_clean_n, 0) as br_mean_rpm,
    v.br_clean_min as br_min_rpm,
    v.br_clean_max as br_max_rpm,
    v.mv_clean_sum / nullif(v.mv_clean_n, 0) / 1000.0 as minute_ventilation_mean_l_min,
    v.tv_clean_sum / nullif(v.tv_clean_n, 0) as tidal_volume_mean_ml,
    -- movement
    v.activity_sum / nullif(v.activity_n, 0) as activity_mean_g,
    v.activity_max as activity_max_g,
    case when w.worn_s > 0 then cast(coalesce(h.steps, 0) as bigint) end as steps,
    v.cadence_sum / nullif(v.cadence_n, 0) as cadence_mean_spm,
    -- sleep
    coalesce(a.sleep_s, 0) as sleep_s,
    a.sleep_back_s,
    a.sleep_belly_s,
    a.sleep_left_s,
    a.sleep_right_s,
    a.sleep_standing_s,
    cast(a.sleep_position_changes_n as bigint) as sleep_position_changes_n,
    -- Astroskin (NULL for Hexoskin wearers)
    coalesce(w.wore_astroskin, false) as wore_astroskin,
    ast.spo2_clean_sum / nullif(ast.spo2_clean_n, 0) as spo2_mean_pct,
    ast.spo2_clean_min as spo2_min_pct,
    ast.temperature_clean_sum / nullif(ast.temperature_clean_n, 0) as temperature_mean_c,
    ast.temperature_clean_min as temperature_min_c,
    ast.temperature_clean_max as temperature_max_c,
    -- ranges by activity type (seconds inside the local day)
    coalesce(a.ranges_n, 0) as activity_ranges_n,
    coalesce(a.rest_ranges_n, 0) as rest_ranges_n,
    coalesce(a.resting_s, 0) as resting_s,
    coalesce(a.lifestyle_s, 0) as lifestyle_s,
    coalesce(a.running_s, 0) as running_s,
    coalesce(a.cycling_s, 0) as cycling_s,
    coalesce(a.sports_s, 0) as sports_s,
    coalesce(a.other_activity_s, 0) as other_activity_s,
    -- study calendar and surveys
    cast(coalesce(cal.events_scheduled, 0) as bigint) as events_scheduled,
    cast(coalesce(cal.events_done, 0) as bigint) as events_done,
    coalesce(sv.surveys_answered, 0) > 0 as survey_answered,
    coalesce(sv.surveys_answered, 0) as surveys_answered
from spine as s
left join {{ ref('dim_subject') }} as subj on subj.subject_id = s.user_id
left join {{ ref('int_subject_days__wear') }} as w on w.user_id = s.user_id and w.local_date = s.local_date
left join {{ subject_ref('int_subject_days__vitals', subjects) }} as v
    on v.username = s.username and v.local_date = s.local_date
left join {{ subject_ref('int_subject_days__hrv', subjects) }} as h
    on h.username = s.username and h.local_date = s.local_date
left join {{ subject_ref('int_subject_days__astroskin', subjects) }} as ast
    on ast.username = s.username and ast.local_date = s.local_date
left join {{ ref('int_subject_days__activity') }} as a on a.user_id = s.user_id and a.local_date = s.local_date
left join {{ ref('int_calendar__subject_days') }} as cal on cal.user_id = s.user_id and cal.local_date = s.local_date
left join {{ ref('int_surveys__subject_days') }} as sv on sv.user_id = s.user_id and sv.local_date = s.local_date
