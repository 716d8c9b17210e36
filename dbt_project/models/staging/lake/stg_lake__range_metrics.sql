-- One row per metric of a range per lake partition. The vendor writes -1 for an HRV metric it did not
-- compute (hexoskin_api_notes.md §4.1): that becomes NULL with is_not_computed = true.
-- An incremental table on the lake partitions (macros/incremental.sql, lake_source_rows).
{%- set pending = lake_incremental(['range_metrics']) %}

with source as (
    select * from {{ lake_source_rows('range_metrics', pending) }}
),

renamed as (
    select
        range_id,
        metric_id,
        subject as username,
        date as lake_date,
        name as metric_name,
        unit,
        (
            value = -1
            and (metric_id in (180, 181, 182, 183, 1080) or upper(name) in ('SDNN', 'SDANN', 'AVNN', 'ASDNN', 'RMSSD'))
        )
            as is_not_computed,
        value as raw_value,
        received_at,
        lake_received_at
    from source
)

select
    * exclude (raw_value),
    case when is_not_computed then null else raw_value end as value
from renamed
