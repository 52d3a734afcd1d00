with source as (
    {{ exec_source('knowledge_hub_pages') }}
)

select
    id as page_id,
    title,
    status,
    visibility,
    {{ exec_unpack('owner', ['id', 'email']) }},
    folders,
    skills,
    source_count,
    version,
    cover,
    published_at,
    created_at,
    updated_at
from source
