-- Descriptive group comparison: per study week and metric, each group's mean of subject-week values
-- minus the reference group's (the first group by name unless var('comparison_reference_group') names
-- one), with a normal-approximation 95 % interval (Welch standard error, z = 1.96). Not a test of an
-- effect: no correction for multiple weeks or metrics, subjects are not independent across weeks.
with g as (
    select * from {{ ref('rpt_group_week') }}
),

reference as (
    select coalesce(
        nullif('{{ var("comparison_reference_group", "") }}', ''),
        (select min(group_name) from g)
    ) as group_name
)

select
    g.week_start,
    g.metric,
    g.group_name,
    r.group_name as reference_group,
    g.subjects_n,
    r_stats.subjects_n as reference_subjects_n,
    g.mean_value,
    r_stats.mean_value as reference_mean_value,
    g.mean_value - r_stats.mean_value as mean_difference,
    case
        when g.subjects_n > 1 and r_stats.subjects_n > 1
            then 1.96 * sqrt(g.sd_value ^ 2 / g.subjects_n + r_stats.sd_value ^ 2 / r_stats.subjects_n)
    end as ci95_half_width,
    g.mean_value - r_stats.mean_value - ci95_half_width as ci95_low,
    g.mean_value - r_stats.mean_value + ci95_half_width as ci95_high
from g
cross join reference as r
inner join g as r_stats
    on r_stats.group_name = r.group_name and r_stats.week_start = g.week_start and r_stats.metric = g.metric
where g.group_name <> r.group_name
