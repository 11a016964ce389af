-- model_quality_daily: one row per endpoint, day (dt), problem type and metric of the model-quality monitor.
--   value, standard_deviation, threshold, comparison_operator  from the day's latest execution (scheduled_hour)
--   breached   value violates its threshold per comparison_operator (LessThanThreshold: value < threshold,
--              GreaterThanThreshold: value > threshold, LessThanOrEqualToThreshold: value <= threshold,
--              GreaterThanOrEqualToThreshold: value >= threshold); NULL when value, threshold or operator is unknown
--   executions            the day's executions reporting this metric
--   breached_executions   how many of them breached (an earlier breach the same day still shows here)
-- endpoint_name is NULL for batch-transform monitors.
WITH judged AS (
    SELECT
        account_id, region, endpoint_name, dt, schedule_name, scheduled_hour, problem_type, metric_name,
        value, standard_deviation, threshold, comparison_operator, source_uri,
        CASE comparison_operator
            WHEN 'LessThanThreshold' THEN value < threshold
            WHEN 'GreaterThanThreshold' THEN value > threshold
            WHEN 'LessThanOrEqualToThreshold' THEN value <= threshold
            WHEN 'GreaterThanOrEqualToThreshold' THEN value >= threshold
        END AS breached
    FROM model_quality_metrics
),
ranked AS (
    SELECT
        j.*,
        row_number() OVER (
            PARTITION BY account_id, region, endpoint_name, dt, problem_type, metric_name
            ORDER BY scheduled_hour DESC, source_uri DESC
        ) AS rn,
        count(*) OVER (PARTITION BY account_id, region, endpoint_name, dt, problem_type, metric_name) AS executions,
        CAST(sum(CASE WHEN breached THEN 1 ELSE 0 END) OVER (
            PARTITION BY account_id, region, endpoint_name, dt, problem_type, metric_name
        ) AS BIGINT) AS breached_executions
    FROM judged AS j
)
SELECT
    account_id,
    region,
    endpoint_name,
    dt,
    problem_type,
    metric_name,
    value,
    standard_deviation,
    threshold,
    comparison_operator,
    breached,
    executions,
    breached_executions,
    schedule_name,
    scheduled_hour,
    source_uri
FROM ranked
WHERE rn = 1
