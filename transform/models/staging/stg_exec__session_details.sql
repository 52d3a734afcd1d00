with source as (
    {{ exec_source('session_details') }}
)

select
    id as session_id,
    {{ exec_unpack('user', ['id', 'email']) }},
    {{ exec_unpack('scenario', ['id', 'name']) }},
    score,
    rank,
    duration_seconds,
    is_valid_attempt,
    outcome_feedback,
    positive_feedback,
    constructive_feedback,
    transcript,
    evaluations,
    created_at
from source
