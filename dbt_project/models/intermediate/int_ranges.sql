-- One row per range (the latest version fetched), with its activity type from the reference seed.
select
    r.range_id,
    r.user_id,
    r.username,
    r.range_name,
    r.activitytype_id,
    a.activity_type_name,
    coalesce(a.category, 'other') as activity_category,
    r.trainingroutine_id,
    r.range_rank,
    r.parent_range_id,
    r.status,
    r.start_at,
    r.end_at,
    r.duration_s,
    r.last_modified,
    r.received_at
from {{ ref('stg_lake__ranges') }} as r
left join {{ ref('activity_types') }} as a on a.activitytype_id = r.activitytype_id
{{ latest_by(['r.range_id'], 'r.received_at desc, r.lake_date desc') }}
