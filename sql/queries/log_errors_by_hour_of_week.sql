-- Question: when do endpoints log errors, by hour of the week ("we get 504s every Tuesday at 2 AM")?
-- Who asks: the on-call engineer looking for a recurring cause (a batch job, a cron, a downstream maintenance).
-- How to read: one row per endpoint, error class and hour of the week (UTC): weekday 1 = Monday .. 7 = Sunday,
--   hour_of_day 0-23. log_lines is the total over the lake's period, weeks_seen the number of distinct days
--   (so of weeks) it happened. rank_in_endpoint 1 is the endpoint's worst hour of the week; a row that stays
--   rank 1 with weeks_seen > 1 is a recurring pattern. sample_message shows one such line.
SELECT
    endpoint_name,
    error_class,
    day_of_week("hour") AS weekday,
    hour("hour") AS hour_of_day,
    sum("count") AS log_lines,
    count(DISTINCT dt) AS weeks_seen,
    rank() OVER (PARTITION BY endpoint_name ORDER BY sum("count") DESC) AS rank_in_endpoint,
    max(sample_message) AS sample_message
FROM endpoint_log_patterns
GROUP BY endpoint_name, error_class, day_of_week("hour"), hour("hour")
ORDER BY endpoint_name, rank_in_endpoint, error_class, weekday, hour_of_day
