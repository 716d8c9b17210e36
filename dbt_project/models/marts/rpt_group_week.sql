-- One row per group, study week and metric: the spread of the group's subject-week values
-- (rpt_subject_week) - n, median, quartiles, mean and SD - so a one-subject group shows n = 1 rather
-- than passing for a cohort mean. Long format: one metric per row. A partial week (some subject of the
-- group not in the study all 7 days: the first and last weeks of the study, a late onboarding) is flagged.
{% set metrics = ['wear_hours_per_day', 'valid_days', 'adherence_pct', 'survey_compliance_pct', 'hr_mean_bpm',
                  'resting_hr_bpm', 'rmssd_ms', 'sdnn_ms', 'br_mean_rpm', 'steps_per_worn_day',
                  'sleep_hours_per_night'] %}
with long as (
    {% for m in metrics %}
        select
            group_name, week_start, subject_id, days_enrolled, '{{ m }}' as metric, cast({{ m }} as double) as value
        from {{ ref('rpt_subject_week') }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

-- each value's deviation from its group's exact mean: the SD from exact sums, the same in any order
centred as (
    select
        *,
        value - cast(sum(cast(value as decimal(38, 12))) over g as double) / count(value) over g as deviation
    from long
    window g as (partition by group_name, week_start, metric)
)

select
    group_name,
    week_start,
    metric,
    count(distinct subject_id) as subjects_enrolled,
    count(distinct subject_id) filter (where days_enrolled = 7) as subjects_full_week,
    min(days_enrolled) < 7 as is_partial_week,
    count(value) as subjects_n,
    median(value) as median_value,
    quantile_cont(value, 0.25) as q1_value,
    quantile_cont(value, 0.75) as q3_value,
    {{ exact_avg('value') }} as mean_value,
    case when count(value) > 1 then sqrt({{ exact_sum('deviation ^ 2') }} / (count(value) - 1)) end as sd_value
from centred
group by group_name, week_start, metric
