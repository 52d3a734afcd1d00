with source as (
    {{ exec_current_children('skill_proficiency', 'skill_id') }}
)

select
    skill_id,
    user_id,
    {{ exec_unpack('user', ['email', 'first_name', 'last_name']) }},
    score,
    tier,
    observation_count,
    last_practiced_at
from source
