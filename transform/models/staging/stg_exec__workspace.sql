with source as (
    {{ exec_source('workspace') }}
)

select
    id as workspace_id,
    name as workspace_name,
    url_slug,
    created_at
from source
