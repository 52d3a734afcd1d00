{# Ranks in order (gold best), so that "the best rank reached" is a max over a number and back. #}
{% macro exec_rank_order(column) -%}
  case {{ column }} when 'gold' then 4 when 'silver' then 3 when 'bronze' then 2 when 'unranked' then 1 end
{%- endmacro %}

{% macro exec_rank_name(column) -%}
  case {{ column }} when 4 then 'gold' when 3 then 'silver' when 2 then 'bronze' when 1 then 'unranked' end
{%- endmacro %}
