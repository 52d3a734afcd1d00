-- Every person and scenario named by an assignment has its member_progress row, with the right count of assignments.
with assigned as (
    select user_id, scenario_id, count(*) as assignments
    from {{ ref('stg_exec__assignments') }}
    group by user_id, scenario_id
)

select assigned.*
from assigned
left join {{ ref('member_progress') }} as progress
    on progress.user_id = assigned.user_id and progress.scenario_id = assigned.scenario_id
where progress.assignments is null or progress.assignments <> assigned.assignments
