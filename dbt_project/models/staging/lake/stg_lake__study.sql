-- The study itself (one row per study the account sees).
select
    study_id,
    uuid as study_uuid,
    name as study_name,
    nullif(trim(timezone), '') as timezone,
    start_date,
    end_date,
    owner_id,
    planning_json,
    last_modified,
    received_at
from {{ lake_relation('study') }}
