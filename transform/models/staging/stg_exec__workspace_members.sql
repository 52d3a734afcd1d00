with source as (
    {{ exec_source('workspace_members') }}
)

select
    id as user_id,
    email,
    first_name,
    last_name,
    role,
    created_at as member_since
from source
