with source as (
    {{ exec_source('knowledge_hub_sources') }}
)

select
    id as source_id,
    title,
    source_type,
    status,
    content_format,
    token_count,
    has_images,
    external_url,
    summary,
    cover,
    folders,
    {{ exec_unpack('created_by', ['id', 'email']) }},
    created_at,
    updated_at,
    processed_at
from source
