with source as (
    {{ exec_source('knowledge_hub_page_versions') }}
)

select
    page_id,
    version,
    title,
    change_type,
    {{ exec_json_text('created_by', 'id') }} as created_by_user_id,
    {{ exec_json_text('created_by', 'email') }} as created_by_email,
    created_at,
    updated_at
from source
