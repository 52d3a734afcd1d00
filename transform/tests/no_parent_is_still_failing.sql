-- Every parent whose children tap-exec keeps failing to fetch (5xx after every retry, or 404 while still listed),
-- from the first run it fails until it arrives: the tap's run succeeds without it, the marts build (they do not
-- depend on stg_exec__fetch_failures), and this test fails `dbt build` every day it still fails. needs_attention:
-- failing on 7 or more API days, report it to Exec support (README, Troubleshooting).
select stream, parent_id, first_failed_at, last_failed_at, tries, days_failing, needs_attention, last_error
from {{ ref('stg_exec__fetch_failures') }}
where is_failing
