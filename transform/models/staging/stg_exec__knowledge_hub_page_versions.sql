with source as (
    {{ exec_current_children('knowledge_hub_page_versions', 'page_id') }}
)

select
    page_id,
    version,
    title,
    change_type,
    {{ exec_unpack('created_by', ['id', 'email']) }},
    created_at,
    updated_at
from source
