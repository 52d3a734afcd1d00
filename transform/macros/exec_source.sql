{#
  The raw table of one stream, as a relation staging can trust:
  - every column the tap declares (_exec__sources.yml), typed; a column the table lacks (loaded by an older tap) is null;
  - no row the loader marked deleted (`_sdc_deleted_at`: ACTIVATE_VERSION with `hard_delete` off);
  - an empty relation with the same columns when the table of a per-parent stream (not selected by default), or of
    fetch_log (rows only once such a stream runs), does not exist, so every model builds whatever the selection. A missing table of a stream selected by default is an error
    (a wrong source schema would otherwise build empty marts and pass every test), unless the var
    `exec_optional_streams` lists it (a stream deliberately deselected).
#}
{% macro exec_source(table_name) %}
  {%- set relation = source('exec', table_name) -%}
  {%- if not execute -%}
    select 1 as placeholder
  {%- else -%}
    {%- set node = graph.sources.values() | selectattr('source_name', 'equalto', 'exec') | selectattr('name', 'equalto', table_name) | first -%}
    {%- set existing = adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier) -%}
    {%- set required = node.config.meta.selected_by_default and not node.config.meta.get('may_be_absent') -%}
    {%- if existing is none and required and table_name not in var('exec_optional_streams', []) -%}
      {{ exceptions.raise_compiler_error(
          "No table " ~ relation ~ ": tap-exec lands " ~ table_name ~ " there by default. Check that the source schema "
          ~ "is the loader's default_target_schema (Meltano: the dbt utility's source_schema setting; plain dbt: "
          ~ "DBT_SOURCE_SCHEMA or the var exec_source_schema) and that the tap has run; if the stream is deliberately "
          ~ "not selected, add it to the var exec_optional_streams.") }}
    {%- endif -%}
    {%- set present = [] -%}
    {%- if existing is not none -%}
      {%- for column in adapter.get_columns_in_relation(existing) -%}
        {%- do present.append(column.name | lower) -%}
      {%- endfor -%}
    {%- endif -%}
    {%- set select_list -%}
      {%- for column in node.columns.values() %}
        {% if column.name in present %}{{ exec_cast(column.name, column.data_type) }}{% else %}cast(null as {{ exec_type(column.data_type) }}){% endif %} as {{ adapter.quote(column.name) }}{{ "," if not loop.last }}
      {%- endfor -%}
    {%- endset -%}
    {%- if existing is none %}
    select {{ select_list }}
    where 1 = 0
    {%- else %}
    select {{ select_list }}
    from {{ existing }}
      {%- if '_sdc_deleted_at' in present %}
    where _sdc_deleted_at is null
      {%- endif %}
    {%- endif -%}
  {%- endif -%}
{% endmacro %}
