-- Parents whose children tap-exec could not fetch: one row per stream and parent, the latest the tap wrote. A row
-- with no resolution still fails (the tap rewrites it every run); no_parent_is_still_failing fails `dbt build` on
-- them. No mart reads this model, so a failing parent never keeps the marts from building.
with source as (
    {{ exec_source('fetch_failures') }}
)

select
    stream,
    parent_id,
    first_failed_at,
    last_failed_at,
    tries,
    days_failing,
    last_error,
    needs_attention,
    resolution,
    resolved_at,
    resolution is null as is_failing
from source
