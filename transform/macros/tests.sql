{# Generic tests the project needs without a package (the pipeline installs nothing from dbt Hub). #}

{# No two rows share the combination of `combination_of_columns`. #}
{% test exec_unique_combination(model, combination_of_columns) %}
select {{ combination_of_columns | join(', ') }}, count(*) as rows_with_this_key
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}

{# Every row satisfies `expression` (rows where it is false or null fail). #}
{% test exec_expression_is_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not coalesce({{ expression }}, false)
{% endtest %}
