-- One row per skill and person: the proficiency the API reported at the last sync that fetched the skill.
-- Empty unless the per-parent stream skill_proficiency is selected.
select
    proficiency.skill_id,
    skills.skill_name,
    proficiency.user_id,
    proficiency.user_email,
    proficiency.user_first_name,
    proficiency.user_last_name,
    coalesce(users.is_current_member, false) as is_current_member,
    proficiency.score,
    proficiency.tier,
    proficiency.tier in ('proficient', 'excellent') as is_proficient,
    proficiency.observation_count,
    proficiency.last_practiced_at
from {{ ref('stg_exec__skill_proficiency') }} as proficiency
left join {{ ref('stg_exec__skills') }} as skills on skills.skill_id = proficiency.skill_id
left join {{ ref('int_exec__users') }} as users on users.user_id = proficiency.user_id
