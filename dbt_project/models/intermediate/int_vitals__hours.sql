-- Data yield per subject, local day and local hour (RAPIDS, wearable_peers_notes.md §0.1 and §2.1):
-- a valid minute is a minute with at least one heart-rate sample that is not flagged DISCONNECTED
-- (heart_rate_quality bit 2); minutes are distinct UTC minutes, so two records in one minute count once.
-- Also the clean heart rate per hour (time-of-day views). Incremental on the lake partitions, from the
-- minutes of int_vitals__minutes.
{%- set pending = lake_incremental(['vitals_minutes'], local_time=true) %}
-- depends_on: {{ ref('int_subjects') }}

select
    username,
    lake_date,
    local_date,
    local_hour,
    {{ distinct_minutes_in_hour('minute_at', 'worn_samples_n > 0') }} as valid_minutes,
    sum(worn_samples_n) as valid_samples_n,
    sum(hr_clean_n) as hr_clean_n,
    {{ exact_sum('hr_clean_sum') }} as hr_clean_sum,
    max(lake_received_at) as lake_received_at,
    max(local_timezone) as local_timezone
from {{ vitals_minutes_pending(pending) }}
{{ lake_pending_where(pending, 'username', 'lake_date') }}
group by username, lake_date, local_date, local_hour
