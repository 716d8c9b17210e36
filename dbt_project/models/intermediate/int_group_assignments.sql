-- Every group assignment of every subject, in the order the server recorded them. The latest recorded
-- assignment is the subject's current group, and reports apply it to the whole study (the seed allows
-- moving a subject after onboarding, even after the study ended, retroactively); the history stays here.
-- Without a group history in the lake, the membership's current group is the only assignment.
with history as (
    select user_id, group_id, applies_from, assigned_at, assignment_index
    from {{ ref('stg_lake__study_group_history') }}
    {{ latest_by(['user_id', 'assignment_index']) }}
),

from_members as (
    select
        m.user_id, m.current_group_id as group_id, m.onboarding_date as applies_from,
        cast(null as timestamptz) as assigned_at, 0 as assignment_index
    from {{ ref('stg_lake__study_members') }} as m
    where m.current_group_id is not null
        and m.user_id not in (select user_id from history)
    {{ latest_by(['m.user_id'], 'm.received_at desc') }}
),

assignments as (
    select * from history
    union all
    select * from from_members
),

ordered as (
    select
        *,
        row_number() over by_time as assignment_number,
        lead(assigned_at) over by_time as superseded_at
    from assignments
    window by_time as (partition by user_id order by assigned_at nulls first, assignment_index)
)

select
    user_id,
    group_id,
    assignment_number,
    assignment_index,
    applies_from,
    assigned_at,
    superseded_at,
    superseded_at is null as is_current
from ordered
