with source as (
    {{ exec_source('knowledge_hub_page_contents') }}
)

select
    id as page_id,
    title,
    status,
    version,
    content,
    {{ exec_unpack('draft', ['title', 'content']) }},
    sources,
    updated_at
from source
