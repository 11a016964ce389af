-- Question: which input features break their data-quality constraints, and how often?
-- Who asks: the data engineer owning the feature pipeline, and the model owner deciding on retraining.
-- How to read: one row per endpoint, feature and constraint check (baseline_drift_check is drift against the
--   training baseline; data_type_check, completeness_check, ... are broken data). violations counts violation
--   rows of DataQuality executions over the lake's period, days the days they occurred on, first_day and
--   last_day when. Most violations first.
SELECT
    endpoint_name,
    feature_name,
    constraint_check_type,
    count(*) AS violations,
    count(DISTINCT dt) AS days,
    min(dt) AS first_day,
    max(dt) AS last_day
FROM monitor_violations
WHERE monitoring_type = 'DataQuality'
GROUP BY endpoint_name, feature_name, constraint_check_type
ORDER BY violations DESC, endpoint_name, feature_name, constraint_check_type
