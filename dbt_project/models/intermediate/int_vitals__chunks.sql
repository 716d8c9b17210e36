-- Additive 1 Hz vitals statistics per chunk = (lake partition, record, subject's local day): the minutes
-- of int_vitals__minutes merged, plus the chunk's resting heart rate. Records and local days are exact
-- merges of chunks (fct_record, fct_subject_day). Incremental on the same lake partitions as the minutes.
{%- set pending = lake_incremental(['vitals_minutes']) %}

with minutes as (
    select *
    from {{ ref('int_vitals__minutes') }}
    {{ lake_pending_where(pending, 'username', 'lake_date') }}
),

sums as (
    select
        username,
        lake_date,
        record_id,
        local_date,
        max(lake_received_at) as lake_received_at,
        min(first_ts) as first_ts,
        max(last_ts) as last_ts,
        {{ merge_statistics(vitals_statistics()) }}
    from minutes
    group by username, lake_date, record_id, local_date
),

-- Resting heart rate: the lowest rolling mean of the clean per-minute heart rate over
-- var('resting_hr_window_min') minutes with at least var('resting_hr_min_coverage_min') minutes of
-- clean data, within one record and one local day.
rolling as (
    select
        username,
        lake_date,
        record_id,
        local_date,
        avg(hr_clean_sum / nullif(hr_clean_n, 0)) over w as hr_rolling_bpm,
        count(nullif(hr_clean_n, 0)) over w as clean_minutes_n
    from minutes
    window w as (
        partition by username, lake_date, record_id, local_date
        order by minute_at
        range between interval ({{ var('resting_hr_window_min') }} - 1) minute preceding and current row
    )
),

resting as (
    select
        username,
        lake_date,
        record_id,
        local_date,
        min(hr_rolling_bpm) filter (where clean_minutes_n >= {{ var('resting_hr_min_coverage_min') }}) as resting_hr_bpm
    from rolling
    group by all
)

select
    sums.*,
    resting.resting_hr_bpm
from sums
left join resting using (username, lake_date, record_id, local_date)
