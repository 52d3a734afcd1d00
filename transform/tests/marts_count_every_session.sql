-- Every session is counted once in each mart that counts sessions: none lost, none double-counted by a join.
with staged as (select count(*) as sessions from {{ ref('stg_exec__sessions') }}),
counted as (
    select 'scenario_practice' as mart, sum(sessions) as sessions from {{ ref('scenario_practice') }}
    union all
    select 'member_progress', sum(sessions) from {{ ref('member_progress') }}
    union all
    select 'practice_activity', sum(sessions) from {{ ref('practice_activity') }}
)

select counted.mart, counted.sessions as counted, staged.sessions as staged
from counted, staged
where coalesce(counted.sessions, 0) <> staged.sessions
