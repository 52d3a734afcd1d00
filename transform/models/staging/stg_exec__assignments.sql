with source as (
    {{ exec_source('assignments') }}
)

select
    id as assignment_id,
    {{ exec_json_text('user', 'id') }} as user_id,
    {{ exec_json_text('user', 'email') }} as user_email,
    {{ exec_json_text('user', 'first_name') }} as user_first_name,
    {{ exec_json_text('user', 'last_name') }} as user_last_name,
    {{ exec_json_text('scenario', 'id') }} as scenario_id,
    {{ exec_json_text('scenario', 'name') }} as scenario_name,
    status,
    due_date,
    best_score,
    best_rank,
    attempt_count,
    attempt_min,
    attempt_max,
    rank_min,
    {{ exec_json_text('program', 'id') }} as program_id,
    {{ exec_json_text('program', 'name') }} as program_name,
    created_at
from source
