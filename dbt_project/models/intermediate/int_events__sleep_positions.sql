{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ lake_delete_pending('signals_events') }}",
) }}
-- The sleep-position events (a few per night), kept so that sleep positions never rescan the events
-- dataset: int_sleep__positions turns them into intervals. Incremental like int_vitals__chunks.
{%- set pending = lake_pending_partitions('signals_events', this) if is_incremental() else none %}

select
    p.username,
    p.lake_date,
    p.record_id,
    p.ts,
    p.position_code,
    p.position_name,
    max(p.received_at) over (partition by p.username, p.lake_date) as lake_received_at
from {{ ref('stg_lake__sleep_positions') }} as p
{%- if is_incremental() %}
where {{ lake_partition_filter(pending['load'], 'p.username', 'p.lake_date') }}
{%- endif %}
