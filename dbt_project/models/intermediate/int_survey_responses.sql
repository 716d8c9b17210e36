-- One row per survey response (the latest version fetched).
select *
from {{ ref('stg_lake__survey_responses') }}
{{ latest_by(['response_id']) }}
