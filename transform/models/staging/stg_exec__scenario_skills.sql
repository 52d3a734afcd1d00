-- One row per skill a scenario evaluates (the `skills` array of each scenario, unnested).
with scenarios as (
    select scenario_id, skills from {{ ref('stg_exec__scenarios') }}
)

select
    scenarios.scenario_id,
    {{ exec_json_text('value', 'id') }} as skill_id,
    {{ exec_json_text('value', 'name') }} as skill_name
from scenarios, {{ exec_json_elements('scenarios', 'skills', 'skill') }}
