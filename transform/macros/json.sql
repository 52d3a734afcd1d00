{# Portable JSON: the loaders land nested objects as JSON (DuckDB) or jsonb, and arrays as JSON or jsonb[]. #}

{# The SQL type of a column type named in _exec__sources.yml. #}
{% macro exec_type(data_type) -%}
  {{ return(adapter.dispatch('exec_type', 'tap_exec')(data_type)) }}
{%- endmacro %}

{% macro default__exec_type(data_type) -%}
  {{ data_type }}
{%- endmacro %}

{% macro postgres__exec_type(data_type) -%}
  {{ 'jsonb' if data_type == 'json' else data_type }}
{%- endmacro %}

{# A raw column as its declared type (PostgreSQL: a jsonb[] array becomes one jsonb array). #}
{% macro exec_cast(column, data_type) -%}
  {{ return(adapter.dispatch('exec_cast', 'tap_exec')(column, data_type)) }}
{%- endmacro %}

{% macro default__exec_cast(column, data_type) -%}
  cast({{ adapter.quote(column) }} as {{ exec_type(data_type) }})
{%- endmacro %}

{% macro postgres__exec_cast(column, data_type) -%}
  {%- if data_type == 'json' -%}
    to_jsonb({{ adapter.quote(column) }})
  {%- else -%}
    cast({{ adapter.quote(column) }} as {{ exec_type(data_type) }})
  {%- endif -%}
{%- endmacro %}

{# The text at `path` (keys separated by dots) inside the JSON object column named `column`; null when absent or JSON null. #}
{% macro exec_json_text(column, path) -%}
  {{ return(adapter.dispatch('exec_json_text', 'tap_exec')(column, path)) }}
{%- endmacro %}

{% macro default__exec_json_text(column, path) -%}
  json_extract_string({{ adapter.quote(column) }}, '$.{{ path }}')
{%- endmacro %}

{% macro postgres__exec_json_text(column, path) -%}
  ({{ adapter.quote(column) }} #>> '{{ "{" ~ path.split(".") | join(",") ~ "}" }}')
{%- endmacro %}

{# A from-clause item that yields one row per element (`value`, JSON) of the JSON array `column` of `relation`. #}
{% macro exec_json_elements(relation_alias, column, alias) -%}
  {{ return(adapter.dispatch('exec_json_elements', 'tap_exec')(relation_alias, column, alias)) }}
{%- endmacro %}

{% macro default__exec_json_elements(relation_alias, column, alias) -%}
  unnest(cast({{ relation_alias }}.{{ adapter.quote(column) }} as json[])) as {{ alias }}(value)
{%- endmacro %}

{% macro postgres__exec_json_elements(relation_alias, column, alias) -%}
  jsonb_array_elements({{ relation_alias }}.{{ adapter.quote(column) }}) as {{ alias }}(value)
{%- endmacro %}

{# `column`'s fields as columns named <prefix>_<field>, e.g. exec_unpack('user', ['id', 'email']): user_id, user_email. #}
{% macro exec_unpack(column, fields, prefix=none) -%}
  {%- for field in fields -%}
    {{ exec_json_text(column, field) }} as {{ prefix or column }}_{{ field }}{{ ",\n    " if not loop.last }}
  {%- endfor -%}
{%- endmacro %}
