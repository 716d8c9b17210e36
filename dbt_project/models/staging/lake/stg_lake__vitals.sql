-- 1 Hz vitals, one row per record and second: the long signal rows pivoted to one column per channel,
-- converted to physical units with the datatype catalog, vendor quality flags decoded to booleans
-- (docs/lake.md, Quality). A sample at ts summarises the second ending at ts.
with samples as (
    select subject, date, record_id, ts, datatype_id, value, received_at
    from {{ lake_relation('signals_vitals') }}
    where datatype_id in (19, 1000, 33, 1001, 36, 37, 49, 53)
),

wide as (
    select
        subject,
        date,
        record_id,
        ts,
        max(received_at) as received_at,
        {{ pivot_raw({'hr_raw': 19, 'hr_quality': 1000, 'br_raw': 33, 'br_quality': 1001,
                      'mv_raw': 36, 'tv_raw': 37, 'activity_raw': 49, 'cadence_raw': 53}) }}
    from samples
    group by subject, date, record_id, ts
),

catalog as (
    {{ catalog_conversions([19, 33, 36, 37, 49, 53]) }}
)

select
    -- ids
    wide.subject as username,
    wide.date as lake_date,
    wide.record_id,
    cast(wide.ts as timestamptz) as ts,
    -- heart rate (bpm) and its flags: 2 disconnected, 4 50/60 Hz, 8 saturated, 16 artifacts, 32 RR unreliable
    {{ to_physical('hr_raw', 19) }} as heart_rate_bpm,
    hr_quality as heart_rate_quality,
    (coalesce(hr_quality, 0) = 0 and hr_raw > 0) as heart_rate_is_clean,
    {{ flag_set('hr_quality', 2) }} as heart_rate_is_disconnected,
    {{ flag_set('hr_quality', 4) }} as heart_rate_has_mains_noise,
    {{ flag_set('hr_quality', 8) }} as heart_rate_is_saturated,
    {{ flag_set('hr_quality', 16) }} as heart_rate_has_artifacts,
    {{ flag_set('hr_quality', 32) }} as heart_rate_rr_unreliable,
    -- breathing (rpm, mL/min, mL) and its flags: 1/2 no thoracic/abdominal, 4/8 baseline, 16/32 noisy
    {{ to_physical('br_raw', 33) }} as breathing_rate_rpm,
    br_quality as breathing_rate_quality,
    (coalesce(br_quality, 0) = 0 and br_raw > 0) as breathing_is_clean,
    {{ flag_set('br_quality', 3) }} as breathing_lacks_a_band,
    {{ flag_set('br_quality', 12) }} as breathing_has_baseline_issue,
    {{ flag_set('br_quality', 48) }} as breathing_is_noisy,
    {{ to_physical('mv_raw', 36) }} as minute_ventilation_ml_min,
    {{ to_physical('tv_raw', 37) }} as tidal_volume_ml,
    -- movement
    {{ to_physical('activity_raw', 49) }} as activity_g,
    {{ to_physical('cadence_raw', 53) }} as cadence_spm,
    wide.received_at
from wide
cross join catalog
