-- One row per subject. The current group is the latest recorded assignment and applies to the whole
-- study in every report (dim_subject_group_history keeps every assignment).
with subjects as (
    select * from {{ ref('int_subjects') }}
),

current_assignment as (
    select user_id, group_id, applies_from, assigned_at
    from {{ ref('int_group_assignments') }}
    where is_current
),

assignment_counts as (
    select user_id, count(*) as group_assignments_n
    from {{ ref('int_group_assignments') }}
    group by user_id
),

groups as (
    select group_id, arg_max(group_name, received_at) as group_name
    from {{ ref('stg_lake__study_groups') }}
    group by group_id
),

devices as (
    select
        user_id,
        arg_max(device_model, start_at) as device_model,
        arg_max(device, start_at) as device_serial,
        count(*) as records_n,
        min(start_at) as first_record_at,
        max(end_at) as last_record_at
    from {{ ref('int_records') }}
    group by user_id
),

calendar as (
    select user_id, min(first_date) as first_study_date, max(last_date) as last_study_date, count(*) as study_days_n
    from {{ ref('int_subject_days') }}
    group by user_id
)

select
    s.user_id as subject_id,
    s.username,
    s.subject_code,
    s.study_uuid as study,
    s.study_name,
    coalesce(a.group_id, s.api_current_group_id) as current_group_id,
    coalesce(g.group_name, 'group ' || coalesce(a.group_id, s.api_current_group_id), 'unassigned')
        as current_group_name,
    a.assigned_at as current_group_assigned_at,
    coalesce(c.group_assignments_n, 0) as group_assignments_n,
    d.device_model,
    d.device_serial,
    s.onboarding_date,
    s.membership_end_date,
    s.timezone,
    cal.first_study_date,
    cal.last_study_date,
    coalesce(cal.study_days_n, 0) as study_days_n,
    coalesce(d.records_n, 0) as records_n,
    d.first_record_at,
    d.last_record_at
from subjects as s
left join current_assignment as a on a.user_id = s.user_id
left join assignment_counts as c on c.user_id = s.user_id
left join groups as g on g.group_id = coalesce(a.group_id, s.api_current_group_id)
left join devices as d on d.user_id = s.user_id
left join calendar as cal on cal.user_id = s.user_id
