-- One row per person and scenario they practised or were assigned: attempts, first and best valid score, lift,
-- rank reached, and the assignment (the latest, when several name the same person and scenario).
with sessions as (
    select * from {{ ref('stg_exec__sessions') }}
),

attempts as (
    select
        user_id,
        scenario_id,
        count(*) as sessions,
        cast(sum(case when is_valid_attempt then 1 else 0 end) as bigint) as valid_attempts,
        max(case when is_valid_attempt then score end) as best_valid_score,
        max(case when is_valid_attempt then {{ exec_rank_order('rank') }} end) as best_rank_order,
        min(created_at) as first_practiced_at,
        max(created_at) as last_practiced_at
    from sessions
    group by user_id, scenario_id
),

valid as (
    select user_id, scenario_id, score, created_at, session_id
    from sessions
    where is_valid_attempt and score is not null
),

first_valid as (
    {{ exec_first_per('valid', 'user_id, scenario_id', 'created_at, session_id') }}
),

assignments as (
    select *
    from (
        select assignment_id, user_id, scenario_id, status, due_date,
               row_number() over (partition by user_id, scenario_id order by created_at desc, assignment_id desc) as recency,
               count(*) over (partition by user_id, scenario_id) as assignment_count
        from {{ ref('stg_exec__assignments') }}
    ) as ordered
    where recency = 1
),

pairs as (
    select user_id, scenario_id from attempts
    union
    select user_id, scenario_id from assignments
)

select
    pairs.user_id,
    users.email as user_email,
    users.first_name as user_first_name,
    users.last_name as user_last_name,
    users.is_current_member,
    pairs.scenario_id,
    scenarios.scenario_name,
    coalesce(attempts.sessions, 0) as sessions,
    coalesce(attempts.valid_attempts, 0) as valid_attempts,
    first_valid.score as first_valid_score,
    attempts.best_valid_score,
    attempts.best_valid_score - first_valid.score as lift,
    {{ exec_rank_name('attempts.best_rank_order') }} as rank_reached,
    attempts.first_practiced_at,
    attempts.last_practiced_at,
    assignments.assignment_id,
    assignments.status as assignment_status,
    assignments.due_date as assignment_due_date,
    coalesce(assignments.assignment_count, 0) as assignments
from pairs
left join attempts on attempts.user_id = pairs.user_id and attempts.scenario_id = pairs.scenario_id
left join first_valid on first_valid.user_id = pairs.user_id and first_valid.scenario_id = pairs.scenario_id
left join assignments on assignments.user_id = pairs.user_id and assignments.scenario_id = pairs.scenario_id
left join {{ ref('int_exec__users') }} as users on users.user_id = pairs.user_id
left join {{ ref('int_exec__scenarios') }} as scenarios on scenarios.scenario_id = pairs.scenario_id
