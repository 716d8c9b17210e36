-- One row per subject and local day (the subject's time zone) of the study, days without data included.
-- Every metric's definition (samples, denominator, unit) is in _marts__models.yml.
with spine as (
    select
        d.*,
        {{ local_day_start('d.local_date', 'd.timezone') }} as day_start_at,
        {{ local_day_start('d.local_date + 1', 'd.timezone') }} as day_end_at
    from {{ ref('int_subject_days') }} as d
),

worn as (
    select user_id, local_date, sum(worn_s) as worn_s, count(*) as records_n
    from {{ ref('int_records__local_days') }}
    group by all
),

hours as (
    select username, local_date, local_hour, sum(valid_minutes) as valid_minutes
    from {{ ref('int_vitals__hours') }}
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
),

vitals as (
    select
        username,
        local_date,
        sum(hr_any_n) as hr_any_n,
        sum(hr_clean_n) as hr_clean_n,
        sum(hr_clean_sum) as hr_clean_sum,
        sum(hr_clean_sumsq) as hr_clean_sumsq,
        min(hr_clean_min) as hr_clean_min,
        max(hr_clean_max) as hr_clean_max,
        min(resting_hr_bpm) as resting_hr_bpm,
        sum(br_clean_n) as br_clean_n,
        sum(br_clean_sum) as br_clean_sum,
        sum(br_clean_sumsq) as br_clean_sumsq,
        min(br_clean_min) as br_clean_min,
        max(br_clean_max) as br_clean_max,
        sum(mv_clean_n) as mv_clean_n,
        sum(mv_clean_sum) as mv_clean_sum,
        sum(tv_clean_n) as tv_clean_n,
        sum(tv_clean_sum) as tv_clean_sum,
        sum(activity_n) as activity_n,
        sum(activity_sum) as activity_sum,
        max(activity_max) as activity_max,
        sum(cadence_n) as cadence_n,
        sum(cadence_sum) as cadence_sum
    from {{ ref('int_vitals__chunks') }}
    group by all
),

hrv as (
    select
        username,
        local_date,
        sum(rr_n) as rr_n,
        sum(rr_sum) as rr_sum,
        sum(rr_sumsq) as rr_sumsq,
        sum(diff_n) as diff_n,
        sum(diff_sumsq) as diff_sumsq,
        sum(nn50_n) as nn50_n,
        sum(steps) as steps
    from {{ ref('int_hrv__record_days') }}
    group by all
),

astroskin as (
    select
        username,
        local_date,
        sum(spo2_clean_n) as spo2_clean_n,
        sum(spo2_clean_sum) as spo2_clean_sum,
        min(spo2_clean_min) as spo2_clean_min,
        sum(temperature_clean_n) as temperature_clean_n,
        sum(temperature_clean_sum) as temperature_clean_sum,
        min(temperature_clean_min) as temperature_clean_min,
        max(temperature_clean_max) as temperature_clean_max
    from {{ ref('int_astroskin__chunks') }}
    group by all
),

activities as (
    select
        user_id,
        local_date,
        count(*) filter (where activity_category <> 'sleep') as ranges_n,
        sum(overlap_s) filter (where activity_category = 'sleep') as sleep_s,
        count(*) filter (where activity_category = 'resting') as rest_ranges_n,
        sum(overlap_s) filter (where activity_category = 'resting') as resting_s,
        sum(overlap_s) filter (where activity_category = 'lifestyle') as lifestyle_s,
        sum(overlap_s) filter (where activity_category = 'running') as running_s,
        sum(overlap_s) filter (where activity_category = 'cycling') as cycling_s,
        sum(overlap_s) filter (where activity_category = 'general sports') as sports_s,
        sum(overlap_s) filter (where activity_category = 'other') as other_activity_s
    from {{ ref('int_ranges__local_days') }}
    group by all
),

positions as (
    select
        username,
        local_date,
        sum(position_s) filter (where position_name = 'back') as sleep_back_s,
        sum(position_s) filter (where position_name = 'belly') as sleep_belly_s,
        sum(position_s) filter (where position_name = 'left') as sleep_left_s,
        sum(position_s) filter (where position_name = 'right') as sleep_right_s,
        sum(position_s) filter (where position_name = 'standing') as sleep_standing_s,
        sum(position_events_n) as sleep_position_changes_n
    from {{ ref('int_sleep__positions') }}
    group by all
),

devices as (
    select user_id, local_date, bool_or(r.device_model = 'Astroskin') as wore_astroskin
    from {{ ref('int_records__local_days') }} as d
    join {{ ref('int_records') }} as r using (record_id, user_id)
    group by all
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
    cast(coalesce(y.valid_minutes, 0) as bigint) as valid_minutes,
    coalesce(y.valid_hours, 0) as valid_hours,
    coalesce(y.valid_minutes, 0) / ((epoch(s.day_end_at) - epoch(s.day_start_at)) / 60.0) as ratio_valid_minutes,
    coalesce(y.valid_hours, 0) / round((epoch(s.day_end_at) - epoch(s.day_start_at)) / 3600.0) as ratio_valid_hours,
    coalesce(y.valid_minutes, 0) >= {{ valid_day_min_minutes() }} as is_valid_day,
    -- heart rate
    v.hr_clean_sum / nullif(v.hr_clean_n, 0) as hr_mean_bpm,
    v.hr_clean_min as hr_min_bpm,
    v.hr_clean_max as hr_max_bpm,
    case when v.hr_clean_n > 1 then sqrt(greatest((v.hr_clean_sumsq - v.hr_clean_sum ^ 2 / v.hr_clean_n) / (v.hr_clean_n - 1), 0)) end
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
    p.sleep_back_s,
    p.sleep_belly_s,
    p.sleep_left_s,
    p.sleep_right_s,
    p.sleep_standing_s,
    cast(p.sleep_position_changes_n as bigint) as sleep_position_changes_n,
    -- Astroskin (NULL for Hexoskin wearers)
    coalesce(dev.wore_astroskin, false) as wore_astroskin,
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
left join worn as w on w.user_id = s.user_id and w.local_date = s.local_date
left join yield as y on y.username = s.username and y.local_date = s.local_date
left join vitals as v on v.username = s.username and v.local_date = s.local_date
left join hrv as h on h.username = s.username and h.local_date = s.local_date
left join astroskin as ast on ast.username = s.username and ast.local_date = s.local_date
left join activities as a on a.user_id = s.user_id and a.local_date = s.local_date
left join positions as p on p.username = s.username and p.local_date = s.local_date
left join devices as dev on dev.user_id = s.user_id and dev.local_date = s.local_date
left join {{ ref('int_calendar__subject_days') }} as cal on cal.user_id = s.user_id and cal.local_date = s.local_date
left join {{ ref('int_surveys__subject_days') }} as sv on sv.user_id = s.user_id and sv.local_date = s.local_date
