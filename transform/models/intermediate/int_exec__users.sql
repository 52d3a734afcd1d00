-- Everyone the data names: current members, plus people who left the workspace but whose sessions or assignments
-- remain (the API keeps them). A former member's name and email are the latest their own rows carry.
with members as (
    select user_id, email, first_name, last_name, role, member_since
    from {{ ref('stg_exec__workspace_members') }}
),

named as (
    select user_id, user_email as email, user_first_name as first_name, user_last_name as last_name,
           created_at as named_at, session_id as row_id
    from {{ ref('stg_exec__sessions') }}
    union all
    select user_id, user_email, user_first_name, user_last_name, created_at, assignment_id
    from {{ ref('stg_exec__assignments') }}
),

latest_named as (
    {{ exec_first_per('named', 'user_id', 'named_at desc, row_id desc') }}
)

select
    coalesce(members.user_id, latest_named.user_id) as user_id,
    coalesce(members.email, latest_named.email) as email,
    coalesce(members.first_name, latest_named.first_name) as first_name,
    coalesce(members.last_name, latest_named.last_name) as last_name,
    members.role,
    members.member_since,
    members.user_id is not null as is_current_member
from members
full outer join latest_named on latest_named.user_id = members.user_id
