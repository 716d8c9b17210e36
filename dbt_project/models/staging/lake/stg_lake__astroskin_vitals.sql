-- Astroskin 1 Hz channels, one row per record and second: SpO2 (%), skin temperature (degC), systolic
-- pressure (mmHg) with their quality flags (0 = clean). PPG (64 Hz) and PTT are not read.
with samples as (
    select subject, date, record_id, ts, datatype_id, value, received_at
    from {{ lake_relation('signals_astroskin') }}
    where datatype_id in (66, 1002, 81, 1003, 98, 1005)
),

wide as (
    select
        subject,
        date,
        record_id,
        ts,
        max(received_at) as received_at,
        {{ pivot_raw({'spo2_raw': 66, 'spo2_quality': 1002, 'temperature_raw': 81, 'temperature_quality': 1003,
                      'systolic_raw': 98, 'systolic_quality': 1005}) }}
    from samples
    group by subject, date, record_id, ts
),

catalog as (
    {{ catalog_conversions([66, 81, 98]) }}
)

select
    wide.subject as username,
    wide.date as lake_date,
    wide.record_id,
    cast(wide.ts as timestamptz) as ts,
    {{ to_physical('spo2_raw', 66) }} as spo2_pct,
    spo2_quality,
    (spo2_raw > 0 and coalesce(spo2_quality, 0) = 0) as spo2_is_clean,
    {{ to_physical('temperature_raw', 81) }} as temperature_c,
    temperature_quality,
    (temperature_raw is not null and coalesce(temperature_quality, 0) = 0) as temperature_is_clean,
    {{ to_physical('systolic_raw', 98) }} as systolic_pressure_mmhg,
    systolic_quality,
    (systolic_raw > 0 and coalesce(systolic_quality, 0) = 0) as systolic_pressure_is_clean,
    wide.received_at
from wide
cross join catalog
