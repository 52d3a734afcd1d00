with source as (
    {{ exec_source('skill_proficiency') }}
)

select
    skill_id,
    user_id,
    {{ exec_json_text('user', 'email') }} as user_email,
    {{ exec_json_text('user', 'first_name') }} as user_first_name,
    {{ exec_json_text('user', 'last_name') }} as user_last_name,
    score,
    tier,
    observation_count,
    last_practiced_at
from source
