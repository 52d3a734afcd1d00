-- Every scenario the data names: the catalogue (archived included: the tap lists with include_archived=true), plus any
-- scenario a session or assignment names that the catalogue no longer lists (deleted), named as its latest row says.
with catalogue as (
    select scenario_id, scenario_name, scenario_slug, difficulty, language, visibility, created_at
    from {{ ref('stg_exec__scenarios') }}
),

named as (
    select scenario_id, scenario_name, scenario_slug, created_at as named_at, session_id as row_id
    from {{ ref('stg_exec__sessions') }}
    union all
    select scenario_id, scenario_name, null, created_at, assignment_id
    from {{ ref('stg_exec__assignments') }}
),

latest_named as (
    {{ exec_first_per('named', 'scenario_id', 'named_at desc, row_id desc') }}
)

select
    coalesce(catalogue.scenario_id, latest_named.scenario_id) as scenario_id,
    coalesce(catalogue.scenario_name, latest_named.scenario_name) as scenario_name,
    coalesce(catalogue.scenario_slug, latest_named.scenario_slug) as scenario_slug,
    catalogue.difficulty,
    catalogue.language,
    catalogue.visibility,
    catalogue.created_at,
    catalogue.scenario_id is not null as is_in_catalogue
from catalogue
full outer join latest_named on latest_named.scenario_id = catalogue.scenario_id
