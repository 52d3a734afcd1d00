with source as (
    {{ exec_source('knowledge_hub_page_contents') }}
)

select
    id as page_id,
    title,
    status,
    version,
    content,
    {{ exec_json_text('draft', 'title') }} as draft_title,
    {{ exec_json_text('draft', 'content') }} as draft_content,
    sources,
    updated_at
from source
