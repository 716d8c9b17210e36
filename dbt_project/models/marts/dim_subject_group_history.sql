-- Every group assignment of every subject, as recorded: the group applies from applies_from (possibly
-- retrospectively) and was recorded at assigned_at; superseded_at is when the next assignment was
-- recorded. Reports use the current one (is_current) for the whole study.
select
    a.user_id as subject_id,
    s.username,
    a.assignment_number,
    a.group_id,
    coalesce(g.group_name, 'group ' || a.group_id) as group_name,
    a.applies_from,
    a.assigned_at,
    a.superseded_at,
    a.is_current
from {{ ref('int_group_assignments') }} as a
left join {{ ref('int_subjects') }} as s on s.user_id = a.user_id
left join (
    select group_id, arg_max(group_name, received_at) as group_name
    from {{ ref('stg_lake__study_groups') }}
    group by group_id
) as g on g.group_id = a.group_id
