{#-
  Project settings, from dbt vars only: hexo-pipeline passes the study's settings as --vars
  (StudySettings.dbt_vars in hexo_pipeline/study_settings.py, from HEXO_STUDY_* / HEXO_VALID_*), and
  dbt_project.yml holds the defaults a hand-run `dbt build` uses. dbt does not render Jinja inside the
  vars of dbt_project.yml, hence macros.
-#}

{#- The lake: the lake_root var, else $HEXO_LAKE_URL or $HEXO_DATA_DIR/lake like the sources' external_location. -#}
{% macro lake_root() -%}
    {%- set folder = env_var('HEXO_DATA_DIR', '../data') ~ '/lake' -%}
    {{ return(var('lake_root', '') or env_var('HEXO_LAKE_URL', '') or folder) }}
{%- endmacro %}

{% macro study_timezone() -%}
    '{{ var("study_timezone") }}'
{%- endmacro %}

{#- First study day as a SQL date, or NULL when unknown. -#}
{% macro study_start_date() -%}
    {%- set value = var("study_start") | string | trim -%}
    {%- if value -%} date '{{ value }}' {%- else -%} cast(null as date) {%- endif -%}
{%- endmacro %}

{#- Last study day (inclusive; study_end is exclusive like HEXO_STUDY_END), or NULL when unknown. -#}
{% macro study_last_date() -%}
    {%- set value = var("study_end") | string | trim -%}
    {%- if value -%} (date '{{ value }}' - 1) {%- else -%} cast(null as date) {%- endif -%}
{%- endmacro %}

{% macro valid_day_min_minutes() -%}
    {{ var("valid_day_min_minutes") | int }}
{%- endmacro %}

{% macro valid_hour_min_minutes() -%}
    {{ var("valid_hour_min_minutes") | int }}
{%- endmacro %}

{#- The resting heart rate's window (minutes): not a setting, since vitals_minutes carries each minute's
    trailing window of this length, written at ingestion (lake/contract.py RESTING_HR_WINDOW_MINUTES; a
    test keeps the two equal). -#}
{% macro resting_hr_window_min() -%}
    30
{%- endmacro %}
