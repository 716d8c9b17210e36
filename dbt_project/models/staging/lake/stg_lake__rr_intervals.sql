-- RR intervals, one row per detected beat, with the vendor's RR quality flag (datatype 1004:
-- 0 = reliable; the first RR of a record is 0 and flagged). Without a quality channel (some imports),
-- an RR counts as reliable inside 300-2000 ms (wearable_peers_notes.md §4.6).
with samples as (
    select subject, date, record_id, ts, datatype_id, value, received_at
    from {{ lake_relation('signals_events') }}
    where datatype_id in (18, 1004)
),

wide as (
    select
        subject,
        date,
        record_id,
        ts,
        max(received_at) as received_at,
        {{ pivot_raw({'rr_raw': 18, 'rr_quality': 1004}) }}
    from samples
    group by subject, date, record_id, ts
),

catalog as (
    {{ catalog_conversions([18]) }}
),

converted as (
    select
        wide.subject as username,
        wide.date as lake_date,
        wide.record_id,
        cast(wide.ts as timestamptz) as ts,
        {{ to_physical('rr_raw', 18) }} * 1000.0 as rr_ms,
        rr_quality,
        wide.received_at
    from wide
    cross join catalog
    where rr_raw is not null
)

select
    * exclude (received_at),
    case
        when rr_quality is not null then rr_quality = 0
        else rr_ms between 300 and 2000
    end as rr_is_reliable,
    received_at
from converted
