{# The rows of `relation` (a CTE name) that come first for their `partition_by` in `order_by` order: one per key. #}
{% macro exec_first_per(relation, partition_by, order_by) -%}
    select *
    from (
        select {{ relation }}.*, row_number() over (partition by {{ partition_by }} order by {{ order_by }}) as _exec_rank
        from {{ relation }}
    ) as ranked
    where _exec_rank = 1
{%- endmacro %}
