-- Survey responses per subject and the study day they are about.
select
    user_id,
    response_date as local_date,
    count(*) as surveys_answered
from {{ ref('int_survey_responses') }}
group by all
