{#-
  Project settings: a --vars value wins, else the environment variable the rest of hexo-pipeline reads
  (hexo_pipeline/defs/partitions.py), else the default. dbt does not render Jinja inside the vars of
  dbt_project.yml, hence macros.
-#}

{#- The lake is always $HEXO_DATA_DIR/lake (the sources' external_location reads the same variable). -#}
{% macro lake_root() -%}
    {{ return(env_var('HEXO_DATA_DIR', '../data') ~ '/lake') }}
{%- endmacro %}

{% macro setting(name, env_name, default) -%}
    {{ return(var(name, env_var(env_name, default))) }}
{%- endmacro %}

{% macro study_timezone() -%}
    '{{ setting("study_timezone", "HEXO_STUDY_TZ", "America/Montreal") }}'
{%- endmacro %}

{#- First study day as a SQL date, or NULL when unknown. -#}
{% macro study_start_date() -%}
    {%- set value = setting("study_start", "HEXO_STUDY_START", "") | string | trim -%}
    {%- if value -%} date '{{ value }}' {%- else -%} cast(null as date) {%- endif -%}
{%- endmacro %}

{#- Last study day (inclusive; study_end is exclusive like HEXO_STUDY_END), or NULL when unknown. -#}
{% macro study_last_date() -%}
    {%- set value = setting("study_end", "HEXO_STUDY_END", "") | string | trim -%}
    {%- if value -%} (date '{{ value }}' - 1) {%- else -%} cast(null as date) {%- endif -%}
{%- endmacro %}

{% macro valid_day_min_minutes() -%}
    {{ setting("valid_day_min_minutes", "HEXO_VALID_DAY_MIN_MINUTES", "600") | int }}
{%- endmacro %}

{% macro valid_hour_min_minutes() -%}
    {{ setting("valid_hour_min_minutes", "HEXO_VALID_HOUR_MIN_MINUTES", "30") | int }}
{%- endmacro %}
