with source as (
    {{ exec_source('session_details') }}
),

-- The sessions current in staging: a detail whose session was deleted upstream (marked `_sdc_deleted_at`, or absent)
-- is left out, derived from sessions rather than from a mark on the detail, which a detail loaded while
-- session_details was deselected, or before the session was deleted, never gets.
sessions as (
    {{ exec_source('sessions') }}
)

select
    id as session_id,
    {{ exec_unpack('user', ['id', 'email']) }},
    {{ exec_unpack('scenario', ['id', 'name']) }},
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
where exists (select 1 from sessions where sessions.id = source.id)
