-- drift_daily: Model Monitor violations per endpoint, day (dt) and monitoring_type, broken down by
-- constraint_check_type and feature.
--   executions, executions_with_violations, reported_violations (sum of the executions' violation_count):
--       per (endpoint, dt, monitoring_type); they REPEAT on every breakdown row of that group: take them
--       from one row (or max()), never sum them across rows.
--   constraint_check_type, feature_name, metric_name, facet: the breakdown (feature_name is NULL for
--       model-quality and bias violations, which name a metric_name / facet instead)
--   violations: violation rows of that breakdown; sum(violations) is safe.
-- A group whose executions found nothing has one row with NULL breakdown and violations = 0.
-- All monitoring types are kept; ml_business_daily counts as drift those other than ModelQuality.
-- endpoint_name is NULL for batch-transform monitors.
WITH executions AS (
    SELECT
        account_id, region, endpoint_name, dt, monitoring_type,
        count(*) AS executions,
        CAST(sum(CASE WHEN violation_count > 0 THEN 1 ELSE 0 END) AS BIGINT) AS executions_with_violations,
        CAST(sum(violation_count) AS BIGINT) AS reported_violations
    FROM monitor_executions
    GROUP BY account_id, region, endpoint_name, dt, monitoring_type
),
violations AS (
    SELECT
        account_id, region, endpoint_name, dt, monitoring_type,
        constraint_check_type, feature_name, metric_name, facet,
        count(*) AS violations
    FROM monitor_violations
    GROUP BY account_id, region, endpoint_name, dt, monitoring_type, constraint_check_type, feature_name, metric_name, facet
)
SELECT
    e.account_id,
    e.region,
    e.endpoint_name,
    e.dt,
    e.monitoring_type,
    e.executions,
    e.executions_with_violations,
    e.reported_violations,
    v.constraint_check_type,
    v.feature_name,
    v.metric_name,
    v.facet,
    coalesce(v.violations, 0) AS violations
FROM executions AS e
LEFT JOIN violations AS v
    ON v.account_id = e.account_id AND v.region = e.region
   AND v.endpoint_name IS NOT DISTINCT FROM e.endpoint_name
   AND v.dt = e.dt AND v.monitoring_type = e.monitoring_type
