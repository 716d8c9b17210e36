-- One row per range per lake partition (a range crossing the study-tz midnight has two rows).
with source as (
    select * from {{ lake_relation('ranges') }}
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
        received_at
    from source
)

select * from renamed
