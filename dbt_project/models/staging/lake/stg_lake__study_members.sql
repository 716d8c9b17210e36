-- One row per study member (subject): onboarding date, end date and the API's current group.
select
    member_id,
    user_id,
    study_id,
    subject_id as subject_code,
    group_id as current_group_id,
    onboarding_date,
    end_date,
    last_modified,
    received_at
from {{ lake_relation('study_members') }}
