-- Survey responses; answers stay JSON (question key -> answer).
select
    response_id,
    survey_id,
    user_id,
    subject as username,
    date as response_date,
    created_at,
    answers_json,
    received_at
from {{ lake_relation('survey_responses') }}
