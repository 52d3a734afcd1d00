-- One row per day (UTC) from the first session to the last, days without practice included.
with sessions as (
    select cast(created_at as date) as activity_date, user_id, score, is_valid_attempt, duration_seconds
    from {{ ref('stg_exec__sessions') }}
),

first_days as (
    select user_id, min(activity_date) as first_date
    from sessions
    group by user_id
),

bounds as (
    select min(activity_date) as first_date, max(activity_date) as last_date
    from sessions
),

days as (
    select cast(series_day as date) as activity_date
    from bounds, {{ exec_days('bounds.first_date', 'bounds.last_date', 'series_day') }}
),

daily as (
    select
        activity_date,
        count(*) as sessions,
        cast(sum(case when is_valid_attempt then 1 else 0 end) as bigint) as valid_attempts,
        count(distinct user_id) as active_users,
        avg(case when is_valid_attempt then score end) as avg_valid_score,
        coalesce(sum(duration_seconds), 0) / 60.0 as practice_minutes
    from sessions
    group by activity_date
),

newcomers as (
    select first_date as activity_date, count(*) as new_users
    from first_days
    group by first_date
)

select
    days.activity_date,
    coalesce(daily.sessions, 0) as sessions,
    coalesce(daily.valid_attempts, 0) as valid_attempts,
    coalesce(daily.active_users, 0) as active_users,
    coalesce(newcomers.new_users, 0) as new_users,
    daily.avg_valid_score,
    coalesce(daily.practice_minutes, 0) as practice_minutes
from days
left join daily on daily.activity_date = days.activity_date
left join newcomers on newcomers.activity_date = days.activity_date
