with source as (
    {{ exec_source('sessions') }}
)

select
    id as session_id,
    {{ exec_json_text('user', 'id') }} as user_id,
    {{ exec_json_text('user', 'email') }} as user_email,
    {{ exec_json_text('user', 'first_name') }} as user_first_name,
    {{ exec_json_text('user', 'last_name') }} as user_last_name,
    {{ exec_json_text('scenario', 'id') }} as scenario_id,
    {{ exec_json_text('scenario', 'name') }} as scenario_name,
    {{ exec_json_text('scenario', 'slug') }} as scenario_slug,
    score,
    rank,
    duration_seconds,
    is_valid_attempt,
    created_at
from source
