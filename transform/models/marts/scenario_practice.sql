-- One row per scenario (archived included): how much it is practised and how well.
with sessions as (
    select * from {{ ref('stg_exec__sessions') }}
),

practice as (
    select
        scenario_id,
        count(*) as sessions,
        cast(sum(case when is_valid_attempt then 1 else 0 end) as bigint) as valid_attempts,
        count(distinct user_id) as participants,
        avg(case when is_valid_attempt then score end) as avg_valid_score,
        max(case when is_valid_attempt then score end) as best_score,
        min(created_at) as first_practiced_at,
        max(created_at) as last_practiced_at
    from sessions
    group by scenario_id
)

select
    scenarios.scenario_id,
    scenarios.scenario_name,
    scenarios.scenario_slug,
    scenarios.difficulty,
    scenarios.language,
    scenarios.is_in_catalogue,
    coalesce(practice.sessions, 0) as sessions,
    coalesce(practice.valid_attempts, 0) as valid_attempts,
    coalesce(practice.participants, 0) as participants,
    practice.avg_valid_score,
    practice.best_score,
    practice.first_practiced_at,
    practice.last_practiced_at
from {{ ref('int_exec__scenarios') }} as scenarios
left join practice on practice.scenario_id = scenarios.scenario_id
