-- Ingestion steps whose latest attempt failed, per subject-day (lake.ingest_failures).
-- An incremental table on the lake partitions (macros/incremental.sql, lake_source_rows).
{%- set pending = lake_incremental(['ingest_failures']) %}

select
    subject as username,
    date as lake_date,
    step as dagster_asset,
    datasets,
    error_class,
    message,
    failed_at,
    run_id,
    lake_received_at
from {{ lake_source_rows('ingest_failures', pending) }}
