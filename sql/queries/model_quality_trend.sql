-- Question: is each model's quality trending towards its threshold?
-- Who asks: the data scientist owning the model, and the model risk reviewer.
-- How to read: one row per endpoint, quality metric and day, from the day's latest Model Monitor execution.
--   value against threshold with comparison_operator (a breach is value on the wrong side of it: breached);
--   margin = value - threshold (its sign depends on the operator: for LessThanThreshold, margin < 0 is a
--   breach); change = value - the previous day's value (NULL on the first day).
SELECT
    endpoint_name,
    metric_name,
    dt,
    value,
    threshold,
    comparison_operator,
    breached,
    value - threshold AS margin,
    value - lag(value) OVER (PARTITION BY account_id, region, endpoint_name, metric_name ORDER BY dt) AS change
FROM model_quality_daily
ORDER BY endpoint_name, metric_name, dt
