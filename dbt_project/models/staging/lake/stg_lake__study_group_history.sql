-- Every group assignment: the group applies from `since` (possibly retrospectively), recorded at assigned_at.
select
    user_id,
    group_id,
    since as applies_from,
    assigned_at,
    assignment_index,
    received_at
from {{ lake_relation('study_group_history') }}
