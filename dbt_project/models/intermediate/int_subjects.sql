-- One row per subject (API user): the subjects list, plus wearers seen only in records (an imported
-- export), with the study membership and the time zone every local day of the marts is computed in:
-- the subject's own when the API gives one, else the study's (HEXO_STUDY_TZ / var study_timezone).
with listed as (
    select *
    from {{ ref('stg_lake__subjects') }}
    {{ latest_by(['user_id']) }}
),

seen_in_records as (
    select user_id, arg_max(username, received_at) as username
    from {{ ref('stg_lake__records') }}
    where user_id is not null
    group by user_id
),

members as (
    select *
    from {{ ref('stg_lake__study_members') }}
    {{ latest_by(['user_id']) }}
),

study as (
    select *
    from {{ ref('stg_lake__study') }}
    {{ latest_by() }}
),

subjects as (
    select user_id, username, study_uuid, subject_code, first_name, last_name, email, timezone
    from listed
    union all
    select
        r.user_id,
        r.username,
        case when position('_' in r.username) > 0 then split_part(r.username, '_', 1) end as study_uuid,
        case
            when position('_' in r.username) > 0 then substr(r.username, position('_' in r.username) + 1)
            else r.username
        end as subject_code,
        null as first_name,
        null as last_name,
        null as email,
        null as timezone
    from seen_in_records as r
    where r.user_id not in (select user_id from listed)
)

select
    subjects.user_id,
    subjects.username,
    coalesce(study.study_uuid, subjects.study_uuid) as study_uuid,
    study.study_name,
    coalesce(members.subject_code, subjects.subject_code) as subject_code,
    subjects.first_name,
    subjects.last_name,
    subjects.email,
    coalesce(subjects.timezone, study.timezone, {{ study_timezone() }}) as timezone,
    members.member_id,
    members.onboarding_date,
    members.end_date as membership_end_date,
    members.current_group_id as api_current_group_id
from subjects
left join members on members.user_id = subjects.user_id
left join study on true
