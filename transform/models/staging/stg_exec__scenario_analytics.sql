with source as (
    {{ exec_source('scenario_analytics') }}
)

select
    scenario_id,
    participant_count,
    total_sessions,
    average_best_score,
    average_best_rank,
    average_lift_percentage,
    total_practice_minutes,
    average_session_duration_seconds,
    score_distribution
from source
