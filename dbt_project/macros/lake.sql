{#-
  Reading the Parquet lake (docs/lake.md).

  lake_relation(table)        the table as a relation: read_parquet over its files when any exist, else an
                              empty relation typed by the source's YAML columns (read_parquet errors on a
                              glob without files). Missing columns read as NULL (UNION ALL BY NAME).
  lake_pending_partitions(..) for incremental models: the subject-day partitions whose files changed since
                              the model last loaded them (by the received_at in the Parquet footers), and
                              those whose files disappeared.
  lake_partition_filter(..)   a SQL predicate selecting a list of (subject, date) partitions; DuckDB prunes
                              hive partitions on it, so only those files are read.
-#}

{% macro lake_source_node(table_name) -%}
    {%- for node in graph.sources.values() if node.source_name == 'lake' and node.name == table_name -%}
        {{ return(node) }}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error("no source lake." ~ table_name ~ " in _lake__sources.yml") }}
{%- endmacro %}


{% macro lake_layout(node) -%}
    {%- set meta = node.config.get('meta', {}) or node.meta or {} -%}
    {{ return(meta.get('layout', 'subject_day')) }}
{%- endmacro %}


{% macro lake_glob(table_name, layout='subject_day') -%}
    {%- if layout == 'study' -%}
        {{ lake_root() }}/{{ table_name }}/data.parquet
    {%- else -%}
        {{ lake_root() }}/{{ table_name }}/*/*/*.parquet
    {%- endif -%}
{%- endmacro %}


{% macro lake_has_files(glob) -%}
    {%- set result = run_query("select count(*) from glob('" ~ glob ~ "')") -%}
    {{ return(result.columns[0].values()[0] > 0) }}
{%- endmacro %}


{% macro lake_empty_relation(node) -%}
    (select
    {%- for column in node.columns.values() %}
        cast(null as {{ column.data_type }}) as {{ adapter.quote(column.name) }}{{ "," if not loop.last }}
    {%- endfor %}
    where false)
{%- endmacro %}


{% macro lake_relation(table_name) -%}
    {#- source() registers the lineage at parse time, whatever is rendered at run time. -#}
    {%- set relation = source('lake', table_name) -%}
    {%- if not execute -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set node = lake_source_node(table_name) -%}
    {%- set glob = lake_glob(table_name, lake_layout(node)) -%}
    {%- if lake_has_files(glob) -%}
        (select * from {{ lake_empty_relation(node) }} union all by name select * from {{ relation }})
    {%- else -%}
        {{ lake_empty_relation(node) }}
    {%- endif -%}
{%- endmacro %}


{#- (subject, date, received_at) of every file of a subject-day table, from the Parquet footers only. -#}
{% macro lake_partition_state_sql(table_name) -%}
    select
        regexp_extract(file_name, 'subject=([^/]+)/date=', 1) as subject,
        cast(regexp_extract(file_name, '/date=([0-9]{4}-[0-9]{2}-[0-9]{2})/', 1) as date) as lake_date,
        max(cast(stats_max as timestamptz)) as lake_received_at
    from parquet_metadata('{{ lake_glob(table_name) }}')
    where path_in_schema = 'received_at'
    group by all
{%- endmacro %}


{% macro lake_pending_partitions(table_name, target) -%}
    {#- {'load': [(subject, date)], 'drop': [(subject, date)]} for an incremental model whose rows carry
        username, lake_date and lake_received_at. Only meaningful when is_incremental(). -#}
    {%- set pending = {'load': [], 'drop': []} -%}
    {%- if not execute -%}
        {{ return(pending) }}
    {%- endif -%}
    {%- set has_files = lake_has_files(lake_glob(table_name)) -%}
    {%- set sql -%}
        with lake as (
            {% if has_files %}{{ lake_partition_state_sql(table_name) }}
            {% else %}select null::varchar as subject, null::date as lake_date, null::timestamptz as lake_received_at where false
            {% endif %}
        ),
        loaded as (select distinct username as subject, lake_date, lake_received_at from {{ target }})
        select 'load' as action, subject, strftime(lake_date, '%Y-%m-%d') as lake_date
        from lake
        where not exists (
            select 1 from loaded
            where loaded.subject = lake.subject and loaded.lake_date = lake.lake_date
              and loaded.lake_received_at = lake.lake_received_at)
        union all
        select 'drop', subject, strftime(lake_date, '%Y-%m-%d')
        from (select distinct subject, lake_date from loaded) as l
        where not exists (select 1 from lake where lake.subject = l.subject and lake.lake_date = l.lake_date)
        order by 1, 2, 3
    {%- endset -%}
    {%- for row in run_query(sql).rows -%}
        {%- do pending[row[0]].append((row[1], row[2])) -%}
    {%- endfor -%}
    {{ return(pending) }}
{%- endmacro %}


{% macro lake_partition_filter(partitions, subject_column='subject', date_column='date') -%}
    {%- if partitions | length == 0 -%}
        false
    {%- else -%}
        ({{ subject_column }}, {{ date_column }}) in (
        {%- for subject, day in partitions %}
            ('{{ subject }}', date '{{ day }}'){{ "," if not loop.last }}
        {%- endfor %})
    {%- endif -%}
{%- endmacro %}


{#- pre_hook of the incremental lake models: delete what is about to be reloaded, and what vanished. -#}
{% macro lake_delete_pending(table_name) -%}
    {%- if execute and is_incremental() -%}
        {%- set pending = lake_pending_partitions(table_name, this) -%}
        delete from {{ this }} where {{ lake_partition_filter(pending['load'] + pending['drop'], 'username', 'lake_date') }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
