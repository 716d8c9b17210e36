-- Additive SpO2, skin temperature and systolic pressure statistics (clean samples: quality 0) per chunk
-- = (lake partition, record, local day), for Astroskin wearers: the minutes of the lake's
-- astroskin_minutes (written at ingestion) merged. Incremental like int_vitals__chunks.
{%- set pending = lake_incremental(['astroskin_minutes'], local_time=true) %}
{%- set tz = "coalesce(s.timezone, " ~ study_timezone() ~ ")" %}

select
    a.username,
    a.lake_date,
    a.record_id,
    {{ summary_local_date('a.minute_at', tz, 'a.lake_date') }} as local_date,
    {{ merge_statistics(astroskin_statistics()) }},
    max(a.received_at) as lake_received_at,
    {{ tz }} as local_timezone
from {{ lake_pending_ref('stg_lake__astroskin_minutes', 'astroskin_minutes', pending) }} as a
left join {{ ref('int_subjects') }} as s on s.username = a.username
{{ lake_pending_where(pending, 'a.username', 'a.lake_date') }}
group by all
