{# A from-clause item with one row (`alias`, a timestamp at midnight) per day from `first` to `last`, both included. #}
{% macro exec_days(first, last, alias) -%}
  generate_series(cast({{ first }} as timestamp), cast({{ last }} as timestamp), interval '1 day') as days_series({{ alias }})
{%- endmacro %}
