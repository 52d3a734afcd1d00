with source as (
    {{ exec_source('assignments') }}
)

select
    id as assignment_id,
    {{ exec_unpack('user', ['id', 'email', 'first_name', 'last_name']) }},
    {{ exec_unpack('scenario', ['id', 'name']) }},
    status,
    due_date,
    best_score,
    best_rank,
    attempt_count,
    attempt_min,
    attempt_max,
    rank_min,
    {{ exec_unpack('program', ['id', 'name']) }},
    created_at
from source
