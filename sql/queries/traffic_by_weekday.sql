-- Question: how does traffic spread over the days of the week?
-- Who asks: capacity planning (instance counts, auto-scaling schedules) and finance (cost forecasts).
-- How to read: one row per ISO day of week (1 = Monday .. 7 = Sunday) with data. days is how many such days
--   the lake holds; invocations the fleet's total on them; avg_invocations_per_day the mean per such day, the
--   number to compare between weekdays (a weekday seen twice is not twice as busy).
WITH daily AS (
    SELECT dt, sum(invocations) AS invocations
    FROM endpoint_daily
    GROUP BY dt
)
SELECT
    day_of_week(date_parse(dt, '%Y-%m-%d')) AS weekday,
    date_format(date_parse(min(dt), '%Y-%m-%d'), '%W') AS weekday_name,
    count(*) AS days,
    sum(invocations) AS invocations,
    CAST(sum(invocations) AS DOUBLE) / count(*) AS avg_invocations_per_day
FROM daily
GROUP BY day_of_week(date_parse(dt, '%Y-%m-%d'))
ORDER BY weekday
