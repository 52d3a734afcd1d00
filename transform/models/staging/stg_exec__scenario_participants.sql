with source as (
    {{ exec_current_children('scenario_participants', 'scenario_id') }}
)

select
    scenario_id,
    user_id,
    {{ exec_unpack('user', ['email', 'first_name', 'last_name']) }},
    session_count,
    first_score,
    first_rank,
    best_score,
    best_rank,
    lift_percentage,
    total_duration_seconds
from source
