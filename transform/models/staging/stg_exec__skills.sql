with source as (
    {{ exec_source('skills') }}
)

select
    id as skill_id,
    name as skill_name,
    slug as skill_slug,
    description,
    cast({{ exec_json_text('proficiency_summary', 'participant_count') }} as bigint) as participant_count,
    cast({{ exec_json_text('proficiency_summary', 'scored_participant_count') }} as bigint) as scored_participant_count,
    cast({{ exec_json_text('proficiency_summary', 'pct_proficient_plus') }} as bigint) as pct_proficient_plus,
    cast({{ exec_json_text('proficiency_summary', 'avg_score') }} as double precision) as avg_proficiency_score,
    created_at
from source
