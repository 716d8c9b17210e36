-- One row per survey response (the latest version fetched).
select * exclude (lake_received_at)
from {{ ref('stg_lake__survey_responses') }}
{{ latest_by(['response_id']) }}
