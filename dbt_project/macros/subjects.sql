{#-
  Subject-scoped incremental models: tables whose rows of a subject depend only on that subject's rows upstream
  and on study-wide tables (fct_record, fct_subject_day, fct_subject_day_completeness and the intermediate
  models under them). A build after the first rebuilds only the subjects whose inputs changed since the last
  complete build, so a late subject-day costs one subject's rows, not the cohort's:

      {%- set subjects = subject_incremental() %}
      select ... from {{ subject_ref('int_vitals__chunks', subjects) }} as c ...

  int_build__subject_marks holds one digest per subject of everything such a model reads (the subject's lake
  manifest entries, the study-wide tables' entries, its calendar, its int_subjects row, its quarantined files).
  A complete build records them at publication (meta.subject_marks_built, hexo_pipeline/warehouse/publish.py);
  the next build deletes and inserts again the rows of the subjects whose digest differs, and of new and gone
  subjects. A build that fails, or builds a --select only, records nothing: the next one redoes its subjects.

  subject_incremental()     configures the model (append-only incremental, the changed subjects' rows deleted
                            first by a pre_hook); returns none in a full build, else the usernames to rebuild.
  subject_ref(model, subjects)  the model's rows of those subjects (the whole model when subjects is none).
-#}

{% macro subject_incremental() -%}
    {%- do config(materialized='incremental', incremental_strategy='append', on_schema_change='fail',
                  pre_hook="{{ subject_delete_changed() }}") -%}
    {%- set marks = ref('int_build__subject_marks') -%}
    {%- if not execute or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(changed_subjects(marks)) }}
{%- endmacro %}


{% macro changed_subjects(marks) -%}
    {%- set built = adapter.get_relation(database=this.database, schema='meta', identifier='subject_marks_built') -%}
    {%- if built is none -%}
        {#- no complete build recorded its marks in this state: every subject -#}
        {%- set sql = "select username from " ~ marks ~ " union select username from " ~ this -%}
    {%- else -%}
        {%- set sql -%}
            select m.username
            from {{ marks }} as m
            left join {{ built }} as b on b.username = m.username
            where b.mark is distinct from m.mark
            union
            select b.username
            from {{ built }} as b
            where not exists (select 1 from {{ marks }} as m where m.username = b.username)
        {%- endset -%}
    {%- endif -%}
    {%- set result = run_query("select username from (" ~ sql ~ ") where username is not null order by 1") -%}
    {{ return(result.columns[0].values() | list) }}
{%- endmacro %}


{#- pre_hook of the subject-scoped models: delete the rows of the subjects about to be rebuilt. -#}
{% macro subject_delete_changed() -%}
    {%- if execute and is_incremental() -%}
        delete from {{ this }} where {{ subject_filter(changed_subjects(ref('int_build__subject_marks'))) }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}


{% macro subject_filter(subjects, column='username') -%}
    {%- if subjects | length == 0 -%}
        false
    {%- else -%}
        {{ column }} in ({% for s in subjects %}'{{ s | replace("'", "''") }}'{{ "," if not loop.last }}{% endfor %})
    {%- endif -%}
{%- endmacro %}


{% macro subject_ref(model_name, subjects) -%}
    {%- if subjects is none -%}
        {{ ref(model_name) }}
    {%- else -%}
        (select * from {{ ref(model_name) }} where {{ subject_filter(subjects) }})
    {%- endif -%}
{%- endmacro %}
