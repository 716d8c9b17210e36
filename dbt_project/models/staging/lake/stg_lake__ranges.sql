-- One row per range per lake partition (a range crossing the study-tz midnight has two rows).
-- An incremental table on the lake partitions (macros/incremental.sql, lake_source_rows).
{%- set pending = lake_incremental(['ranges']) %}

with source as (
    select * from {{ lake_source_rows('ranges', pending) }}
),

renamed as (
    select
        range_id,
        user_id,
        subject as username,
        date as lake_date,
        name as range_name,
        activitytype_id,
        trainingroutine_id,
        rank as range_rank,
        parent_id as parent_range_id,
        status,
        start_at,
        end_at,
        duration_s,
        last_modified,
        received_at,
        lake_received_at
    from source
)

select * from renamed
