-- One row per record: the latest version fetched (a record that grew after a first sync is taken whole).
select
    record_id,
    user_id,
    username,
    start_at,
    end_at,
    duration_s,
    device,
    device_model,
    status,
    last_modified,
    received_at
from {{ ref('stg_lake__records') }}
{{ latest_by(['record_id'], 'received_at desc, lake_date desc') }}
