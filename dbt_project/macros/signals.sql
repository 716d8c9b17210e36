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
