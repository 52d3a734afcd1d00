with source as (
    {{ exec_source('scenarios') }}
)

select
    id as scenario_id,
    name as scenario_name,
    slug as scenario_slug,
    description,
    url,
    difficulty,
    context,
    objective,
    language,
    visibility,
    {{ exec_unpack('owner', ['id', 'email']) }},
    skills,
    created_at,
    updated_at
from source
