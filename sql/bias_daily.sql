-- bias_daily: one row per endpoint, day (dt), stage (pre_training, post_training), label, facet, facet value and
-- Clarify bias metric, from the day's latest execution (scheduled_hour).
--   value   the metric (NULL when Clarify could not compute it; error says why)
--   breached  TRUE when a bias_drift_check violation names this facet, facet value and metric on that
--             endpoint and day (metric names compared case-insensitively), else FALSE
-- endpoint_name is NULL for batch-transform monitors.
WITH ranked AS (
    SELECT
        b.*,
        row_number() OVER (
            PARTITION BY account_id, region, endpoint_name, dt, stage, label, facet, facet_value, metric_name
            ORDER BY scheduled_hour DESC, source_uri DESC
        ) AS rn
    FROM bias_metrics AS b
),
breaches AS (
    SELECT DISTINCT account_id, region, endpoint_name, dt, facet, facet_value, lower(metric_name) AS metric_key
    FROM monitor_violations
    WHERE constraint_check_type = 'bias_drift_check'
)
SELECT
    r.account_id,
    r.region,
    r.endpoint_name,
    r.dt,
    r.stage,
    r.label,
    r.facet,
    r.facet_value,
    r.metric_name,
    r.value,
    r.error,
    br.metric_key IS NOT NULL AS breached,
    r.schedule_name,
    r.scheduled_hour,
    r.source_uri
FROM ranked AS r
LEFT JOIN breaches AS br
    ON br.account_id = r.account_id AND br.region = r.region
   AND br.endpoint_name IS NOT DISTINCT FROM r.endpoint_name
   AND br.dt = r.dt AND br.facet = r.facet
   AND br.facet_value IS NOT DISTINCT FROM r.facet_value
   AND br.metric_key = lower(r.metric_name)
WHERE r.rn = 1
