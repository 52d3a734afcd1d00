with source as (
    {{ exec_source('collections') }}
)

select
    id as collection_id,
    name as collection_name,
    slug,
    description,
    scenario_count,
    created_at
from source
