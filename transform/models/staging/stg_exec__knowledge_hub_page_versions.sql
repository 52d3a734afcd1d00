with source as (
    {{ exec_source('knowledge_hub_page_versions') }}
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
