{#-
  The header of the incremental models over subject-day lake datasets (macros/lake.sql reads the lake):

      {%- set pending = lake_incremental(['vitals_minutes']) %}
      select ... from {{ ref('stg_lake__vitals_minutes') }} as m
      {{ lake_pending_where(pending, 'm.username', 'm.lake_date') }}

  configures the model (append-only incremental, rows of the partitions to reload or gone deleted first
  by a pre_hook) and returns the partitions to load. The model's rows carry username, lake_date and
  lake_received_at. A model over several datasets of the same partitions (int_events__chunks) reloads a
  partition when any of them changed and drops it only when all of them are gone. A model whose local days
  depend on the subject's time zone says `local_time=true` and carries `local_timezone`: a subject whose
  time zone changed has every partition loaded again.
-#}

{% macro lake_incremental(datasets, subject_column='username', date_column='lake_date', local_time=false) -%}
    {%- set flag = 'true' if local_time else 'false' -%}
    {%- if datasets | length == 1 -%}
        {%- set hook = "{{ lake_delete_pending('" ~ datasets[0] ~ "', '" ~ subject_column ~ "', '" ~ date_column ~ "', " ~ flag ~ ") }}" -%}
    {%- else -%}
        {%- set hook = "{{ lake_delete_pending_all(" ~ datasets ~ ", " ~ flag ~ ") }}" -%}
    {%- endif -%}
    {%- do config(materialized='incremental', incremental_strategy='append', on_schema_change='fail', pre_hook=hook) -%}
    {%- if not is_incremental() -%}
        {{ return(none) }}
    {%- elif datasets | length == 1 -%}
        {{ return(lake_pending_partitions(datasets[0], this, subject_column, date_column, local_time)) }}
    {%- else -%}
        {{ return(lake_pending_all(datasets, this, local_time)) }}
    {%- endif -%}
{%- endmacro %}


{#- The staging models of the small subject-day datasets (records, ranges, calendar events...) are incremental
    tables: a full build reads every file, an incremental one the current files of the pending partitions only,
    so no build after the first binds every file of the dataset. This is the dataset's rows (lake columns, with
    `subject` and `date`) and `lake_received_at`, the partition's newest received_at, as the manifest records it
    (what lake_pending_partitions compares). Used with lake_incremental([dataset], <subject>, <date> columns). -#}
{% macro lake_source_rows(dataset, pending) -%}
    (select *, max(received_at) over (partition by subject, date) as lake_received_at
    from {{ lake_relation(dataset, pending['load'] if pending is not none else none) }}
    {{ lake_pending_where(pending, 'subject', 'date') }})
{%- endmacro %}


{#- What an incremental model reads of a summary dataset: its staging model in a full build; in an incremental
    run the same rows read from the current files of the partitions to load only (lake_relation(table,
    partitions)), since binding the staging view reads the footer of every file of the dataset. Only for staging
    models that are lake_summary_rows(dataset). -#}
{% macro lake_pending_ref(model_name, dataset, pending) -%}
    {%- if is_incremental() -%}
        ({{ lake_summary_rows(dataset, pending['load']) }})
    {%- else -%}
        {{ ref(model_name) }}
    {%- endif -%}
{%- endmacro %}


{#- int_vitals__minutes for its incremental readers (lake_pending_ref for the view over the staging view);
    those models declare `-- depends_on: ref('int_subjects')`, which the incremental SQL joins. -#}
{% macro vitals_minutes_pending(pending) -%}
    {%- if is_incremental() -%}
        ({{ vitals_minutes_in_local_time(lake_pending_ref('stg_lake__vitals_minutes', 'vitals_minutes', pending)) }})
    {%- else -%}
        {{ ref('int_vitals__minutes') }}
    {%- endif -%}
{%- endmacro %}


{#- `where <the partitions to load>` in an incremental run, nothing in a full build. -#}
{% macro lake_pending_where(pending, subject_column, date_column) -%}
    {%- if is_incremental() -%}
        where {{ lake_partition_filter(pending['load'], subject_column, date_column) }}
    {%- endif -%}
{%- endmacro %}


{#- lake_pending_partitions over several datasets: load what changed in any, drop what is gone from all. -#}
{% macro lake_pending_all(datasets, target, local_time=false) -%}
    {%- set load = [] -%}
    {%- set gone = {} -%}
    {%- for dataset in datasets -%}
        {%- set pending = lake_pending_partitions(dataset, target, local_time=local_time) -%}
        {%- for partition in pending['load'] if partition not in load -%}
            {%- do load.append(partition) -%}
        {%- endfor -%}
        {%- for partition in pending['drop'] -%}
            {%- do gone.update({partition: gone.get(partition, 0) + 1}) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- set drop = [] -%}
    {%- for partition, n in gone.items() if n == datasets | length and partition not in load -%}
        {%- do drop.append(partition) -%}
    {%- endfor -%}
    {{ return({'load': load, 'drop': drop}) }}
{%- endmacro %}


{#- pre_hook of a model over several datasets (lake_delete_pending for one). -#}
{% macro lake_delete_pending_all(datasets, local_time=false) -%}
    {%- if execute and is_incremental() -%}
        {%- set pending = lake_pending_all(datasets, this, local_time) -%}
        delete from {{ this }} where {{ lake_partition_filter(pending['load'] + pending['drop'], 'username', 'lake_date') }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
