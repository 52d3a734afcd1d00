with source as (
    {{ exec_source('workspace_groups') }}
)

select
    id as group_id,
    name as group_name,
    created_at
from source
