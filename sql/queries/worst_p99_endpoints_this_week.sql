-- Question: which endpoints had the worst tail latency this week, and on which day?
-- Who asks: the on-call ML engineer and the platform SRE, in the weekly ops review.
-- How to read: one row per endpoint variant, worst first. worst_p99_ms is the highest 5-minute p99 of
--   ModelLatency in the last 7 days of data (the week ending on the lake's latest dt, not today's date);
--   worst_day is the day it happened; typical_p99_ms is the median over the week of each day's median
--   period p99, so worst_p99_ms / typical_p99_ms says whether the worst moment was a spike or the norm.
WITH week AS (
    SELECT *
    FROM endpoint_daily
    WHERE date_diff('day', CAST(date_parse(dt, '%Y-%m-%d') AS DATE),
                    (SELECT max(CAST(date_parse(dt, '%Y-%m-%d') AS DATE)) FROM endpoint_daily)) < 7
)
SELECT
    endpoint_name,
    variant_name,
    max(model_latency_p99_ms_worst_period) AS worst_p99_ms,
    max_by(dt, model_latency_p99_ms_worst_period) AS worst_day,
    approx_percentile(model_latency_p99_ms_median_period, 0.5) AS typical_p99_ms
FROM week
WHERE model_latency_p99_ms_worst_period IS NOT NULL
GROUP BY endpoint_name, variant_name
ORDER BY worst_p99_ms DESC
