-- Ingestion steps whose latest attempt failed, per subject-day (lake.ingest_failures).
select
    subject as username,
    date as lake_date,
    step as dagster_asset,
    datasets,
    error_class,
    message,
    failed_at,
    run_id
from {{ lake_relation('ingest_failures') }}
