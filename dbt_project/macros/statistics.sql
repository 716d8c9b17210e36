{#-
  Additive statistics and their merges. A statistic column merges by its name: *_min with min, *_max
  with max, every other one (counts *_n, sums *_sum, *_sumsq) with sum, so any grain (minute, chunk,
  record, local day) merges exactly into a coarser one.
-#}

{#- The 1 Hz vitals statistics of int_vitals__minutes / int_vitals__chunks (vitals_minutes). -#}
{% macro vitals_statistics() -%}
    {{ return([
        'seconds_n', 'hr_any_n', 'hr_clean_n', 'hr_clean_sum', 'hr_clean_sumsq', 'hr_clean_min', 'hr_clean_max',
        'hr_disconnected_n', 'br_clean_n', 'br_clean_sum', 'br_clean_sumsq', 'br_clean_min', 'br_clean_max',
        'mv_clean_n', 'mv_clean_sum', 'tv_clean_n', 'tv_clean_sum', 'activity_n', 'activity_sum', 'activity_max',
        'cadence_n', 'cadence_sum', 'hr_unfiltered_n', 'hr_unfiltered_sum', 'activity_nonzero_n',
        'activity_nonzero_sum',
    ]) }}
{%- endmacro %}


{#- The Astroskin statistics of int_astroskin__chunks (astroskin_minutes). -#}
{% macro astroskin_statistics() -%}
    {{ return([
        'spo2_clean_n', 'spo2_clean_sum', 'spo2_clean_min', 'spo2_clean_max', 'temperature_clean_n',
        'temperature_clean_sum', 'temperature_clean_min', 'temperature_clean_max', 'systolic_clean_n',
        'systolic_clean_sum',
    ]) }}
{%- endmacro %}


{#- `sum(x) as x, min(y_min) as y_min, ...` for the statistic columns, inside a group by (float sums
    exact: exact_sum). -#}
{% macro merge_statistics(columns) -%}
    {%- for column in columns %}
        {% if column.endswith('_min') %}min({{ column }})
        {%- elif column.endswith('_max') %}max({{ column }})
        {%- elif column.endswith('_n') %}sum({{ column }})
        {%- else %}{{ exact_sum(column) }}{% endif %} as {{ column }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}


{#-
  Order-independent sums and means of doubles, so that two builds of the same lake give the same marts bit
  for bit. DuckDB adds doubles in the order its threads happen to combine partial results, and float
  addition is not associative (fct_subject_day.tidal_volume_mean_ml once differed in its last digits
  between two builds). exact_sum adds the values as DECIMAL(38, 12) (fixed point, 128-bit integer
  arithmetic: exact, so any order gives the same total) and returns a double. Each value is rounded to
  1e-12 once (the lake's values are integer samples times a scale: heart rate, RR and activity are exact
  in 12 decimals; tidal volume and ventilation, x 13.28 mL, lose < 1e-12 mL, a relative 1e-15); totals stay
  below 1e26. `where`: an optional filter of the aggregate.
-#}
{% macro exact_sum(expression, where=none) -%}
    cast(sum(cast({{ expression }} as decimal(38, 12))){% if where %} filter (where {{ where }}){% endif %} as double)
{%- endmacro %}


{#- avg(x) with exact_sum: the mean of the non-null values, independent of their order. -#}
{% macro exact_avg(expression, where=none) -%}
    ({{ exact_sum(expression, where) }} / count({{ expression }}){% if where %} filter (where {{ where }}){% endif %})
{%- endmacro %}


{#- The latest version of each row: qualify on the newest received_at (or `order_by`) per `partition_by`. -#}
{% macro latest_by(partition_by=[], order_by='received_at desc nulls last') -%}
    {%- set partition_by = [partition_by] if partition_by is string else partition_by -%}
    qualify row_number() over (
        {%- if partition_by %}partition by {{ partition_by | join(', ') }} {% endif -%}
        order by {{ order_by }}) = 1
{%- endmacro %}


{#- count(distinct minute) of the minutes (timestamps on whole minutes) of one local hour, as two 64-bit masks:
    DuckDB's count(distinct) keeps a hash set per group, 2.5x the time of the whole hourly model at study scale
    (230 M minutes). A local hour spans at most 128 consecutive UTC minutes (60; 120 in the hour a DST change
    repeats; 90 for a half-hour shift), so the minute number modulo 128 tells its minutes apart: one bit each,
    set by bit_or, counted by bit_count. Only valid when the group is one local hour. -#}
{% macro distinct_minutes_in_hour(minute_at, where='true') -%}
    {%- set slot = "(epoch(" ~ minute_at ~ ")::bigint // 60 % 128)" -%}
    (bit_count(coalesce(bit_or(cast(1 as ubigint) << ({{ slot }} % 64)) filter (where ({{ where }}) and {{ slot }} < 64), 0))
     + bit_count(coalesce(bit_or(cast(1 as ubigint) << ({{ slot }} % 64)) filter (where ({{ where }}) and {{ slot }} >= 64), 0)))
{%- endmacro %}
