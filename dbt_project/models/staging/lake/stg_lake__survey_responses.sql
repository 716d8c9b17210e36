-- Survey responses; answers stay JSON (question key -> answer).
-- An incremental table on the lake partitions (macros/incremental.sql, lake_source_rows).
{%- set pending = lake_incremental(['survey_responses'], 'username', 'response_date') %}

select
    response_id,
    survey_id,
    user_id,
    subject as username,
    date as response_date,
    created_at,
    answers_json,
    received_at,
    lake_received_at
from {{ lake_source_rows('survey_responses', pending) }}
