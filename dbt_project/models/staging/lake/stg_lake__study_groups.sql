-- The study's groups.
select
    group_id,
    study_id,
    name as group_name,
    description as group_description,
    received_at
from {{ lake_relation('study_groups') }}
