with source as (
    {{ exec_source('scenario_participants') }}
)

select
    scenario_id,
    user_id,
    {{ exec_json_text('user', 'email') }} as user_email,
    {{ exec_json_text('user', 'first_name') }} as user_first_name,
    {{ exec_json_text('user', 'last_name') }} as user_last_name,
    session_count,
    first_score,
    first_rank,
    best_score,
    best_rank,
    lift_percentage,
    total_duration_seconds
from source
