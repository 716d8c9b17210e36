-- Subjects as the API lists them. Usernames are '<study uuid>_<subject id>' (seed doc, Studies).
with source as (
    select * from {{ lake_relation('subjects') }}
)

select
    user_id,
    username,
    case when position('_' in username) > 0 then split_part(username, '_', 1) end as study_uuid,
    case when position('_' in username) > 0 then substr(username, position('_' in username) + 1) else username end
        as subject_code,
    first_name,
    last_name,
    email,
    nullif(trim(timezone), '') as timezone,
    received_at
from source
