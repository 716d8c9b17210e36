{#- None of `columns` holds a NULL: one scan of the model and one dbt node for all of its never-null columns
    (a not_null test per column cost ~50 ms of dbt overhead each: 129 of them were a quarter of a demo build).
    A failure returns one row per column that holds NULLs, naming it. -#}
{% test not_null_columns(model, columns) %}
with null_counts as (
    select
    {%- for column in columns %}
        count(*) filter (where {{ column }} is null) as {{ column }}{{ "," if not loop.last }}
    {%- endfor %}
    from {{ model }}
)
{%- for column in columns %}
select '{{ column }}' as column_name, {{ column }} as null_rows from null_counts where {{ column }} > 0
{{ "union all" if not loop.last }}
{%- endfor %}
{% endtest %}
