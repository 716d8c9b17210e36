{#-
  Views are created again only when their SQL changed.

  Creating a view over the lake binds read_parquet(union_by_name) over every file of its dataset (12,500 files
  per summary dataset at 500 subjects x 730 days: 7-28 s each), and dbt's view materialization creates every
  view in every build. DuckDB binds a view again whenever a query reads it (a column added to the lake files
  since shows up), so a view whose compiled SQL is the one already in the state database is left as it is.
  The compiled SQL can differ between builds of the same project (lake_relation reads the compacted months
  only once some exist, for one): its digest is recorded in meta.dbt_view_sql beside each view created, and
  compared. The state database starts empty when the project changes (publish.py), and --full-refresh too.
-#}

{% macro create_view_sql_table() -%}
    create schema if not exists meta;
    create table if not exists meta.dbt_view_sql (view_name varchar, sql_md5 varchar)
{%- endmacro %}


{% macro view_sql_is_current(relation, digest) -%}
    {%- set name = relation.schema ~ '.' ~ relation.identifier -%}
    {%- set found = run_query(
        "select count(*) from meta.dbt_view_sql where view_name = '" ~ name ~ "' and sql_md5 = '" ~ digest ~ "'"
    ) -%}
    {{ return(found.columns[0].values()[0] > 0) }}
{%- endmacro %}


{% macro record_view_sql(relation, digest) -%}
    {%- set name = relation.schema ~ '.' ~ relation.identifier -%}
    {%- call statement('record_view_sql') -%}
        delete from meta.dbt_view_sql where view_name = '{{ name }}';
        insert into meta.dbt_view_sql values ('{{ name }}', '{{ digest }}')
    {%- endcall -%}
    {%- do adapter.commit() -%}
{%- endmacro %}


{%- materialization view, adapter='duckdb' -%}
    {%- set existing = load_cached_relation(this) -%}
    {%- set digest = local_md5(sql) -%}
    {%- if existing is not none and existing.is_view and not should_full_refresh()
        and view_sql_is_current(this, digest) -%}
        {{ run_hooks(pre_hooks) }}
        {%- call noop_statement('main', 'unchanged') -%}{%- endcall -%}
        {{ run_hooks(post_hooks) }}
        {{ return({'relations': [this.incorporate(type='view')]}) }}
    {%- endif -%}
    {%- set result = dbt.materialization_view_default() -%}
    {% do record_view_sql(this, digest) %}
    {{ return(result) }}
{%- endmaterialization -%}
