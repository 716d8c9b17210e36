-- One row per record per lake partition (a record crossing the study-tz midnight has two rows).
-- An incremental table on the lake partitions (macros/incremental.sql, lake_source_rows).
{%- set pending = lake_incremental(['records']) %}

with source as (
    select * from {{ lake_source_rows('records', pending) }}
),

renamed as (
    select
        -- ids
        record_id,
        user_id,
        subject as username,
        date as lake_date,
        -- times (UTC)
        start_at,
        end_at,
        day_start_at,
        day_end_at,
        duration_s,
        day_duration_s,
        -- device
        device,
        case
            when device is null then null
            when upper(device) like 'ASTRO%' then 'Astroskin'
            else 'Hexoskin'
        end as device_model,
        status,
        last_modified,
        received_at,
        lake_received_at
    from source
)

select * from renamed
