-- One row per range (activity, sleep, rest test; laps have rank 1 and their parent), with the metrics
-- the API computed for it and its GPS distance and duration (the API's track when the lake has tracks,
-- else the range's TCX/FIT export).
with ranges as (
    select r.*, s.timezone
    from {{ ref('int_ranges') }} as r
    left join {{ ref('int_subjects') }} as s on s.user_id = r.user_id
),

metrics as (
    select
        range_id,
        bool_or(is_not_computed) as hrv_not_computed,
        max(value) filter (where metric_id = 44) as hr_mean_bpm,
        max(value) filter (where metric_id = 46) as hr_max_bpm,
        max(value) filter (where metric_id = 47) as hr_min_bpm,
        max(value) filter (where metric_id = 12) as br_mean_rpm,
        max(value) filter (where metric_id = 1) as activity_mean_g,
        max(value) filter (where metric_id = 17) as cadence_mean_spm,
        max(value) filter (where metric_id = 71) as steps,
        max(value) filter (where metric_id = 139) as energy_kcal,
        max(value * case when unit = 's' then 1000.0 else 1.0 end) filter (where metric_id = 180) as sdnn_ms,
        max(value * case when unit = 's' then 1000.0 else 1.0 end) filter (where metric_id = 182) as mean_nn_ms,
        max(value * case when unit = 's' then 1000.0 else 1.0 end) filter (where metric_id = 1080) as rmssd_ms,
        max(value) filter (where metric_id = 1032) as sleep_total_s,
        count(*) as metrics_n
    from (
        select *
        from {{ ref('stg_lake__range_metrics') }}
        {{ latest_by(['range_id', 'metric_id']) }}
    ) as latest
    group by range_id
),

tracks as (
    select
        range_id,
        {{ exact_sum('distance_m') }} as distance_m,
        epoch(max(end_at)) - epoch(min(start_at)) as duration_s
    from (
        select *
        from {{ ref('stg_lake__tracks') }}
        {{ latest_by(['track_id']) }}
    ) as latest
    group by range_id
),

exported as (
    -- a range is exported as TCX and FIT: one file's activities, TCX first
    select range_id, {{ exact_sum('distance_m') }} as distance_m, {{ exact_sum('elapsed_time_s') }} as duration_s
    from (
        select
            *,
            dense_rank() over (
                partition by range_id order by case file_format when 'tcx' then 0 else 1 end, file_sha256
            ) as pick
        from {{ ref('stg_lake__activities') }}
        where source_kind = 'range_export' and range_id is not null
    ) as files
    where pick = 1
    group by range_id
)

select
    r.range_id,
    r.user_id as subject_id,
    r.username,
    r.range_name,
    r.activitytype_id,
    coalesce(r.activity_type_name, 'type ' || r.activitytype_id) as activity_type_name,
    r.activity_category,
    r.trainingroutine_id,
    r.range_rank,
    r.parent_range_id,
    r.status,
    r.start_at,
    r.end_at,
    r.duration_s,
    cast({{ local_ts('r.start_at', 'r.timezone') }} as date) as local_start_date,
    m.hr_mean_bpm,
    m.hr_min_bpm,
    m.hr_max_bpm,
    m.br_mean_rpm,
    m.activity_mean_g,
    m.cadence_mean_spm,
    m.steps,
    m.energy_kcal,
    m.mean_nn_ms,
    m.sdnn_ms,
    m.rmssd_ms,
    coalesce(m.hrv_not_computed, false) as hrv_not_computed,
    m.sleep_total_s,
    coalesce(t.distance_m, e.distance_m) as gps_distance_m,
    coalesce(t.duration_s, e.duration_s) as gps_duration_s,
    case when t.range_id is not null then 'track' when e.range_id is not null then 'range_export' end as gps_source,
    r.last_modified,
    r.received_at
from ranges as r
left join metrics as m on m.range_id = r.range_id
left join tracks as t on t.range_id = r.range_id
left join exported as e on e.range_id = r.range_id
