with source as (
    {{ exec_source('session_details') }}
)

select
    id as session_id,
    {{ exec_json_text('user', 'id') }} as user_id,
    {{ exec_json_text('user', 'email') }} as user_email,
    {{ exec_json_text('scenario', 'id') }} as scenario_id,
    {{ exec_json_text('scenario', 'name') }} as scenario_name,
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
