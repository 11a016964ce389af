-- Question: did a new model version change latency or errors on the endpoint it was deployed to?
-- Who asks: the model owner after a release, and the release manager deciding whether to roll back.
-- How to read: one row per endpoint variant and model version it served, for endpoints that served more
--   than one version in the lake's period, oldest version first. days, first_day and last_day say when each
--   version served; invocations and the 5xx rate are totals over those days; avg_p99_ms is the mean of the
--   days' worst-period p99 and avg_latency_ms the mean of the days' true mean latency. Compare consecutive rows.
WITH changed AS (
    SELECT account_id, region, endpoint_name, variant_name
    FROM endpoint_daily
    WHERE model_version IS NOT NULL
    GROUP BY account_id, region, endpoint_name, variant_name
    HAVING count(DISTINCT model_version) > 1
)
SELECT
    d.endpoint_name,
    d.variant_name,
    d.model_version,
    count(*) AS days,
    min(d.dt) AS first_day,
    max(d.dt) AS last_day,
    sum(d.invocations) AS invocations,
    CAST(sum(d.invocation_5xx_errors) AS DOUBLE) / nullif(sum(d.invocations), 0) AS invocation_5xx_rate,
    avg(d.model_latency_p99_ms_worst_period) AS avg_p99_ms,
    avg(d.model_latency_avg_ms) AS avg_latency_ms
FROM endpoint_daily AS d
JOIN changed AS c
    ON c.account_id = d.account_id AND c.region = d.region
   AND c.endpoint_name = d.endpoint_name AND c.variant_name = d.variant_name
WHERE d.model_version IS NOT NULL
GROUP BY d.endpoint_name, d.variant_name, d.model_version
ORDER BY d.endpoint_name, d.variant_name, d.model_version
