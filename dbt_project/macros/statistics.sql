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
        'cadence_n', 'cadence_sum',
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


{#- `sum(x) as x, min(y_min) as y_min, ...` for the statistic columns, inside a group by. -#}
{% macro merge_statistics(columns) -%}
    {%- for column in columns %}
        {% if column.endswith('_min') %}min{% elif column.endswith('_max') %}max{% else %}sum{% endif -%}
        ({{ column }}) as {{ column }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}


{#- The latest version of each row: qualify on the newest received_at (or `order_by`) per `partition_by`. -#}
{% macro latest_by(partition_by=[], order_by='received_at desc nulls last') -%}
    {%- set partition_by = [partition_by] if partition_by is string else partition_by -%}
    qualify row_number() over (
        {%- if partition_by %}partition by {{ partition_by | join(', ') }} {% endif -%}
        order by {{ order_by }}) = 1
{%- endmacro %}
