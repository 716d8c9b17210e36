{#- Schemas are the layer names themselves (staging, intermediate, marts, reference), not
    "<target schema>_<layer>": BI users read `marts.fct_subject_day`. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}
