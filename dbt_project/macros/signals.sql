{#-
  Helpers for the signal datasets: catalog conversions, quality decoding, local time.
-#}

{#- One row with scale_<id> and offset_<id> for each datatype id, from the datatype catalog. -#}
{% macro catalog_conversions(datatype_ids) -%}
    select
    {%- for id in datatype_ids %}
        max(scale) filter (where datatype_id = {{ id }}) as scale_{{ id }},
        max("offset") filter (where datatype_id = {{ id }}) as offset_{{ id }}{{ "," if not loop.last }}
    {%- endfor %}
    from {{ ref('stg_lake__datatypes') }}
{%- endmacro %}


{#- physical = (raw - offset) * scale (docs/lake.md), with the catalog row joined as `catalog`. -#}
{% macro to_physical(raw, datatype_id, catalog='catalog') -%}
    (({{ raw }} - {{ catalog }}.offset_{{ datatype_id }}) * {{ catalog }}.scale_{{ datatype_id }})
{%- endmacro %}


{#- Pivot long samples to one column per datatype: max(value) filter (where datatype_id = id). -#}
{% macro pivot_raw(columns) -%}
    {%- for name, id in columns.items() %}
        max(value) filter (where datatype_id = {{ id }}) as {{ name }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}


{#- A bit of a vendor quality flag is set (NULL flags: no quality channel, nothing set). -#}
{% macro flag_set(quality, bits) -%}
    ((coalesce({{ quality }}, 0) & {{ bits }}) <> 0)
{%- endmacro %}


{#- The local wall-clock timestamp of a UTC instant in an IANA zone. -#}
{% macro local_ts(ts, tz) -%}
    timezone({{ tz }}, {{ ts }})
{%- endmacro %}


{#- The local day of a summary row's UTC instant `ts` (a minute or a 5-minute window of lake partition
    `lake_date`) in the zone `tz`. Lake partitions are days of the study time zone (docs/lake.md) and a summary
    bucket never straddles one, so for a subject living in the study's zone (the default) the local day is the
    partition: no time-zone conversion, which costs ~50 ns a row (~12 s over the 250 M minutes of a 500 x 730
    study, per model reading them). Other zones convert. -#}
{% macro summary_local_date(ts, tz, lake_date) -%}
    case when {{ tz }} = {{ study_timezone() }} then {{ lake_date }} else cast({{ local_ts(ts, tz) }} as date) end
{%- endmacro %}


{#- A lateral join giving one row (`day`) per local day a [start, end) span touches in its time zone. -#}
{% macro local_days_spanned(start_column, end_column, tz_column) -%}
    lateral (
        select unnest(generate_series(
            cast({{ local_ts(start_column, tz_column) }} as date),
            cast({{ local_ts(end_column ~ ' - interval 1 microsecond', tz_column) }} as date),
            interval 1 day
        )) as day
    )
{%- endmacro %}


{#- The UTC instant at which a local day starts in an IANA zone. -#}
{% macro local_day_start(day, tz) -%}
    timezone({{ tz }}, cast({{ day }} as timestamp))
{%- endmacro %}


{#- Seconds of overlap between [a0, a1) and [b0, b1) (timestamptz), 0 when disjoint. -#}
{% macro overlap_s(a0, a1, b0, b1) -%}
    greatest(0.0, epoch(least({{ a1 }}, {{ b1 }})) - epoch(greatest({{ a0 }}, {{ b0 }})))
{%- endmacro %}


{#- The name of a sleep-position code (datatype 270). -#}
{% macro sleep_position_name(code) -%}
    case {{ code }}
        when 1 then 'belly'
        when 2 then 'back'
        when 3 then 'right'
        when 4 then 'left'
        when 5 then 'standing'
    end
{%- endmacro %}


{#- int_vitals__minutes over `minutes` (stg_lake__vitals_minutes, or its rows of some partitions). -#}
{% macro vitals_minutes_in_local_time(minutes) -%}
{%- set tz = "coalesce(s.timezone, " ~ study_timezone() ~ ")" %}
{%- set local_at = local_ts('m.minute_at', tz) %}
select
    m.username,
    m.lake_date,
    m.record_id,
    {{ summary_local_date('m.minute_at', tz, 'm.lake_date') }} as local_date,
    hour({{ local_at }}) as local_hour,
    m.minute_at,
    m.* exclude (username, lake_date, record_id, minute_at, received_at),
    -- Lake partitions are the study time zone's days: for a subject living in it, the partition is the
    -- local day, and the windows written at ingestion (hr_window_*) are the local day's (int_vitals__chunks)
    {{ tz }} = {{ study_timezone() }} as lake_day_is_local_day,
    -- the time zone of local_date and local_hour: a partition is reloaded when its subject's changes
    {{ tz }} as local_timezone,
    -- the lake file's received_at (one per partition), what change detection compares
    m.received_at as lake_received_at
from {{ minutes }} as m
left join {{ ref('int_subjects') }} as s on s.username = m.username
{%- endmacro %}
