with source as (
    {{ exec_source('knowledge_hub_source_contents') }}
)

select
    id as source_id,
    title,
    status,
    content_format,
    token_count,
    content,
    updated_at,
    processed_at
from source
