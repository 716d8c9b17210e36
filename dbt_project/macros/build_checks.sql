{#-
  record_build_checks(results): the on-run-end hook (dbt_project.yml) that fills marts.rpt_build_checks with
  the result of every data test of the build that just ran (dbt's `results`), so the published marts say
  which checks failed or warned, and why. Only `dbt build` and `dbt test` record (a `dbt docs generate`
  after the build keeps them). The model rpt_build_checks creates the empty, typed table.
-#}
{% macro record_build_checks(results) -%}
    {%- if execute and flags.WHICH in ('build', 'test') -%}
        {%- set nodes = graph.nodes.values() | selectattr('name', 'equalto', 'rpt_build_checks') | list -%}
        {%- set relation = adapter.get_relation(
            database=nodes[0].database, schema=nodes[0].schema, identifier='rpt_build_checks') if nodes else none -%}
        {%- if relation is not none -%}
            {%- set rows = [] -%}
            {%- for r in results if r.node.resource_type == 'test' -%}
                {%- set tested = (r.node.attached_node or '').split('.')[-1] -%}
                {%- do rows.append("(" ~ [
                    build_checks_string(r.node.unique_id),
                    build_checks_string(r.node.name),
                    build_checks_string(tested or none),
                    build_checks_string(r.node.column_name),
                    build_checks_string(r.status.value if r.status.value is defined else r.status),
                    build_checks_string(r.node.config.severity | lower),
                    (r.failures if r.failures is not none else 'null'),
                    build_checks_string(r.message),
                ] | join(", ") ~ ", now())") -%}
            {%- endfor -%}
            {%- do run_query("delete from " ~ relation) -%}
            {%- if rows -%}
                insert into {{ relation }}
                    (check_id, check_name, model, column_name, status, severity, failures, message, checked_at)
                values {{ rows | join(",\n") }}
            {%- else -%}
                select 1
            {%- endif -%}
        {%- else -%}
            select 1
        {%- endif -%}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}


{% macro build_checks_string(value) -%}
    {%- if value is none -%}null{%- else -%}'{{ (value | string)[:1000] | replace("'", "''") }}'{%- endif -%}
{%- endmacro %}
