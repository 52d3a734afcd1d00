{#
  The rows of a per-parent list (`table_name`, keyed to its parent by `parent_key`) that the parent's latest whole
  fetch returned. Each row carries `_exec_fetched_at`, when its parent's list was fetched; fetch_log holds, per stream
  and parent, when the list was last fetched whole. A row with an older mark is one the API no longer returns (a
  participant whose sessions were deleted): it stays in the raw table, identifiable, and leaves the modelled layer.
  A parent with no fetch_log row (fetched by an older tap, or fetch_log deselected) keeps every row.
#}
{% macro exec_current_children(table_name, parent_key) -%}
    select rows.*
    from ({{ exec_source(table_name) }}) as rows
    left join ({{ exec_source('fetch_log') }}) as fetches
        on fetches.stream = '{{ table_name }}' and fetches.parent_id = rows.{{ parent_key }}
    where fetches.fetched_at is null or rows._exec_fetched_at >= fetches.fetched_at
{%- endmacro %}
