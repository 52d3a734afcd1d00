with source as (
    {{ exec_source('knowledge_hub_folders') }}
)

select
    id as folder_id,
    name as folder_name,
    emoji,
    parent as parent_folder_id,
    visibility,
    item_count,
    subfolder_count,
    created_at,
    updated_at
from source
