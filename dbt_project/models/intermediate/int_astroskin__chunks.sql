{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ lake_delete_pending('signals_astroskin') }}",
) }}
-- Additive SpO2, skin temperature and systolic pressure statistics (clean samples: quality 0) per chunk
-- = (lake partition, record, local day), for Astroskin wearers. Incremental like int_vitals__chunks.
{%- set pending = lake_pending_partitions('signals_astroskin', this) if is_incremental() else none %}
{%- set tz = "coalesce(s.timezone, " ~ study_timezone() ~ ")" %}

with samples as (
    select
        a.*,
        cast({{ local_ts('a.ts', tz) }} as date) as local_date
    from {{ ref('stg_lake__astroskin_vitals') }} as a
    left join {{ ref('int_subjects') }} as s on s.username = a.username
    {%- if is_incremental() %}
    where {{ lake_partition_filter(pending['load'], 'a.username', 'a.lake_date') }}
    {%- endif %}
),

chunks as (
    select
    username,
    lake_date,
    record_id,
    local_date,
    max(received_at) as chunk_received_at,
    count(*) filter (where spo2_is_clean) as spo2_clean_n,
    sum(spo2_pct) filter (where spo2_is_clean) as spo2_clean_sum,
    min(spo2_pct) filter (where spo2_is_clean) as spo2_clean_min,
    max(spo2_pct) filter (where spo2_is_clean) as spo2_clean_max,
    count(*) filter (where temperature_is_clean) as temperature_clean_n,
    sum(temperature_c) filter (where temperature_is_clean) as temperature_clean_sum,
    min(temperature_c) filter (where temperature_is_clean) as temperature_clean_min,
    max(temperature_c) filter (where temperature_is_clean) as temperature_clean_max,
    count(*) filter (where systolic_pressure_is_clean) as systolic_clean_n,
    sum(systolic_pressure_mmhg) filter (where systolic_pressure_is_clean) as systolic_clean_sum
    from samples
    group by username, lake_date, record_id, local_date
)

select
    * exclude (chunk_received_at),
    max(chunk_received_at) over (partition by username, lake_date) as lake_received_at
from chunks
