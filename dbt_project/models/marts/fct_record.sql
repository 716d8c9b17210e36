-- One row per record, with the statistics the vendor computes for a record: heart rate over the clean
-- 1 Hz samples, breathing over the clean breathing samples, HRV over the RR intervals the RR quality
-- channel marks reliable (definitions in fct_record.yml). Beside them, the vendor-compatible figures
-- (*_unfiltered, *_nonzero, *_reliable_seq): computed as the vendor's own record statistics are.
{%- set subjects = subject_incremental() %}
with records as (
    select r.*, s.timezone
    from {{ subject_ref('int_records', subjects) }} as r
    left join {{ ref('int_subjects') }} as s on s.user_id = r.user_id
),

vitals as (
    select
        record_id,
        {{ merge_statistics(vitals_statistics()) }}
    from {{ subject_ref('int_vitals__chunks', subjects) }}
    group by record_id
),

astroskin as (
    select
        record_id,
        {{ merge_statistics(astroskin_statistics()) }}
    from {{ subject_ref('int_astroskin__chunks', subjects) }}
    group by record_id
)

select
    r.record_id,
    r.user_id as subject_id,
    r.username,
    r.device,
    r.device_model,
    r.status,
    r.start_at,
    r.end_at,
    r.duration_s,
    cast({{ local_ts('r.start_at', 'r.timezone') }} as date) as local_start_date,
    r.timezone,
    -- heart rate (1 Hz, clean samples)
    v.hr_clean_sum / nullif(v.hr_clean_n, 0) as hr_mean_bpm,
    v.hr_clean_min as hr_min_bpm,
    v.hr_clean_max as hr_max_bpm,
    cast(coalesce(v.hr_clean_n, 0) as bigint) as hr_clean_n,
    v.hr_clean_n / nullif(v.hr_any_n, 0) as hr_clean_ratio,
    v.hr_unfiltered_sum / nullif(v.hr_unfiltered_n, 0) as hr_mean_unfiltered_bpm,
    -- breathing (1 Hz, clean samples)
    v.br_clean_sum / nullif(v.br_clean_n, 0) as br_mean_rpm,
    v.mv_clean_sum / nullif(v.mv_clean_n, 0) / 1000.0 as minute_ventilation_mean_l_min,
    v.tv_clean_sum / nullif(v.tv_clean_n, 0) as tidal_volume_mean_ml,
    -- movement
    v.activity_sum / nullif(v.activity_n, 0) as activity_mean_g,
    v.activity_nonzero_sum / nullif(v.activity_nonzero_n, 0) as activity_mean_nonzero_g,
    v.cadence_sum / nullif(v.cadence_n, 0) as cadence_mean_spm,
    h.steps,
    -- HRV (reliable RR)
    coalesce(h.rr_n, 0) as rr_clean_n,
    h.mean_nn_ms,
    h.sdnn_ms,
    h.rmssd_ms,
    case
        when h.reliable_seq_diff_n > 0 then sqrt(h.reliable_seq_diff_sumsq / h.reliable_seq_diff_n)
    end as rmssd_reliable_seq_ms,
    h.pnn50_pct,
    -- Astroskin
    a.spo2_clean_sum / nullif(a.spo2_clean_n, 0) as spo2_mean_pct,
    a.temperature_clean_sum / nullif(a.temperature_clean_n, 0) as temperature_mean_c,
    r.last_modified,
    r.received_at
from records as r
left join vitals as v on v.record_id = r.record_id
left join {{ subject_ref('int_hrv__records', subjects) }} as h on h.record_id = r.record_id
left join astroskin as a on a.record_id = r.record_id
