-- One row per survey response; answers stay JSON (read them with DuckDB's ->> operator).
select
    r.response_id,
    r.survey_id,
    r.user_id as subject_id,
    s.username,
    r.response_date,
    r.created_at,
    r.answers_json,
    s.current_group_id as group_id,
    s.current_group_name as group_name,
    r.received_at
from {{ ref('int_survey_responses') }} as r
left join {{ ref('dim_subject') }} as s on s.subject_id = r.user_id
