-- One row per survey response (the latest version fetched).
select *
from {{ ref('stg_lake__survey_responses') }}
qualify row_number() over (partition by response_id order by received_at desc nulls last) = 1
