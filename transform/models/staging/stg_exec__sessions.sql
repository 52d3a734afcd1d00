with source as (
    {{ exec_source('sessions') }}
)

select
    id as session_id,
    {{ exec_unpack('user', ['id', 'email', 'first_name', 'last_name']) }},
    {{ exec_unpack('scenario', ['id', 'name', 'slug']) }},
    score,
    rank,
    duration_seconds,
    is_valid_attempt,
    created_at
from source
