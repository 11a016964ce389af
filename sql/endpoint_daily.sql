-- endpoint_daily: one row per endpoint variant (account_id, region, endpoint_name, variant_name) and day (dt).
--
-- Traffic (AWS/SageMaker, Sum statistic of each period, added up over the day):
--   invocations, invocation_4xx_errors, invocation_5xx_errors, model_errors  (counts)
--   invocation_4xx_rate, invocation_5xx_rate = errors / invocations; NULL when the day had no traffic.
-- Latency, in milliseconds (CloudWatch reports microseconds). CloudWatch's p50/p90/p99 are computed by
-- CloudWatch for each period (default 5 min); the lake has no raw requests, so a daily percentile cannot
-- be rebuilt and an average of percentiles is not a percentile. The columns say what they are:
--   model_latency_avg_ms                  true daily mean: sum of the periods' Sum / sum of their SampleCount
--   model_latency_p50_ms_median_period    median over the day's periods of the period p50
--   model_latency_p90_ms_worst_period     highest period p90 of the day
--   model_latency_p99_ms_worst_period     highest period p99 of the day (the "worst p99" the reports use)
--   model_latency_p99_ms_median_period    median over the day's periods of the period p99 (a typical period's p99)
--   overhead_latency_*                    the same for OverheadLatency
--   (median_period uses approx_percentile on Athena; locally it is an exact nearest-rank median.)
-- Utilisation, percent (/aws/sagemaker/Endpoints; CPU can exceed 100 on multi-core instances):
--   *_utilization_avg = mean of the periods' Average; *_utilization_max = highest period Maximum.
-- Serving model (endpoint_models of the same dt; NULL if not observed that day): model_name, model_version,
--   model_package_group, instance_type, instance_count.
-- A variant observed in endpoint_models but with no datapoints that day still has a row: invocations 0, rates NULL.
WITH metrics AS (
    SELECT
        account_id, region, endpoint_name, variant_name, dt,
        sum(CASE WHEN metric_name = 'Invocations' AND stat = 'Sum' THEN value END) AS invocations,
        sum(CASE WHEN metric_name = 'Invocation4XXErrors' AND stat = 'Sum' THEN value END) AS errors_4xx,
        sum(CASE WHEN metric_name = 'Invocation5XXErrors' AND stat = 'Sum' THEN value END) AS errors_5xx,
        sum(CASE WHEN metric_name = 'InvocationModelErrors' AND stat = 'Sum' THEN value END) AS errors_model,
        sum(CASE WHEN metric_name = 'ModelLatency' AND stat = 'Sum' THEN value END) AS model_latency_sum_us,
        sum(CASE WHEN metric_name = 'ModelLatency' AND stat = 'SampleCount' THEN value END) AS model_latency_count,
        approx_percentile(CASE WHEN metric_name = 'ModelLatency' AND stat = 'p50' THEN value END, 0.5) AS model_p50_median_us,
        max(CASE WHEN metric_name = 'ModelLatency' AND stat = 'p90' THEN value END) AS model_p90_worst_us,
        max(CASE WHEN metric_name = 'ModelLatency' AND stat = 'p99' THEN value END) AS model_p99_worst_us,
        approx_percentile(CASE WHEN metric_name = 'ModelLatency' AND stat = 'p99' THEN value END, 0.5) AS model_p99_median_us,
        sum(CASE WHEN metric_name = 'OverheadLatency' AND stat = 'Sum' THEN value END) AS overhead_latency_sum_us,
        sum(CASE WHEN metric_name = 'OverheadLatency' AND stat = 'SampleCount' THEN value END) AS overhead_latency_count,
        approx_percentile(CASE WHEN metric_name = 'OverheadLatency' AND stat = 'p50' THEN value END, 0.5) AS overhead_p50_median_us,
        max(CASE WHEN metric_name = 'OverheadLatency' AND stat = 'p90' THEN value END) AS overhead_p90_worst_us,
        max(CASE WHEN metric_name = 'OverheadLatency' AND stat = 'p99' THEN value END) AS overhead_p99_worst_us,
        approx_percentile(CASE WHEN metric_name = 'OverheadLatency' AND stat = 'p99' THEN value END, 0.5) AS overhead_p99_median_us,
        avg(CASE WHEN metric_name = 'CPUUtilization' AND stat = 'Average' THEN value END) AS cpu_avg,
        max(CASE WHEN metric_name = 'CPUUtilization' AND stat = 'Maximum' THEN value END) AS cpu_max,
        avg(CASE WHEN metric_name = 'MemoryUtilization' AND stat = 'Average' THEN value END) AS memory_avg,
        max(CASE WHEN metric_name = 'MemoryUtilization' AND stat = 'Maximum' THEN value END) AS memory_max,
        avg(CASE WHEN metric_name = 'GPUUtilization' AND stat = 'Average' THEN value END) AS gpu_avg,
        max(CASE WHEN metric_name = 'GPUUtilization' AND stat = 'Maximum' THEN value END) AS gpu_max,
        avg(CASE WHEN metric_name = 'GPUMemoryUtilization' AND stat = 'Average' THEN value END) AS gpu_memory_avg,
        max(CASE WHEN metric_name = 'GPUMemoryUtilization' AND stat = 'Maximum' THEN value END) AS gpu_memory_max
    FROM cloudwatch_metrics
    WHERE namespace IN ('AWS/SageMaker', '/aws/sagemaker/Endpoints')
      AND endpoint_name IS NOT NULL
      AND variant_name IS NOT NULL
    GROUP BY account_id, region, endpoint_name, variant_name, dt
),
models AS (
    SELECT account_id, region, endpoint_name, variant_name, dt,
           model_name, model_version, model_package_group, instance_type, instance_count
    FROM (
        SELECT m.*,
               row_number() OVER (
                   PARTITION BY account_id, region, endpoint_name, variant_name, dt
                   ORDER BY observed_at DESC
               ) AS rn
        FROM endpoint_models AS m
    ) AS ranked
    WHERE rn = 1
),
variants AS (
    SELECT account_id, region, endpoint_name, variant_name, dt FROM metrics
    UNION
    SELECT account_id, region, endpoint_name, variant_name, dt FROM models
)
SELECT
    v.account_id,
    v.region,
    v.endpoint_name,
    v.variant_name,
    v.dt,
    CAST(coalesce(m.invocations, 0) AS BIGINT) AS invocations,
    CAST(coalesce(m.errors_4xx, 0) AS BIGINT) AS invocation_4xx_errors,
    CAST(coalesce(m.errors_5xx, 0) AS BIGINT) AS invocation_5xx_errors,
    CAST(coalesce(m.errors_model, 0) AS BIGINT) AS model_errors,
    coalesce(m.errors_4xx, 0) / nullif(m.invocations, 0) AS invocation_4xx_rate,
    coalesce(m.errors_5xx, 0) / nullif(m.invocations, 0) AS invocation_5xx_rate,
    m.model_latency_sum_us / nullif(m.model_latency_count, 0) / 1000.0 AS model_latency_avg_ms,
    m.model_p50_median_us / 1000.0 AS model_latency_p50_ms_median_period,
    m.model_p90_worst_us / 1000.0 AS model_latency_p90_ms_worst_period,
    m.model_p99_worst_us / 1000.0 AS model_latency_p99_ms_worst_period,
    m.model_p99_median_us / 1000.0 AS model_latency_p99_ms_median_period,
    m.overhead_latency_sum_us / nullif(m.overhead_latency_count, 0) / 1000.0 AS overhead_latency_avg_ms,
    m.overhead_p50_median_us / 1000.0 AS overhead_latency_p50_ms_median_period,
    m.overhead_p90_worst_us / 1000.0 AS overhead_latency_p90_ms_worst_period,
    m.overhead_p99_worst_us / 1000.0 AS overhead_latency_p99_ms_worst_period,
    m.overhead_p99_median_us / 1000.0 AS overhead_latency_p99_ms_median_period,
    m.cpu_avg AS cpu_utilization_avg,
    m.cpu_max AS cpu_utilization_max,
    m.memory_avg AS memory_utilization_avg,
    m.memory_max AS memory_utilization_max,
    m.gpu_avg AS gpu_utilization_avg,
    m.gpu_max AS gpu_utilization_max,
    m.gpu_memory_avg AS gpu_memory_utilization_avg,
    m.gpu_memory_max AS gpu_memory_utilization_max,
    mo.model_name,
    mo.model_version,
    mo.model_package_group,
    mo.instance_type,
    mo.instance_count
FROM variants AS v
LEFT JOIN metrics AS m
    ON m.account_id = v.account_id AND m.region = v.region AND m.endpoint_name = v.endpoint_name
   AND m.variant_name = v.variant_name AND m.dt = v.dt
LEFT JOIN models AS mo
    ON mo.account_id = v.account_id AND mo.region = v.region AND mo.endpoint_name = v.endpoint_name
   AND mo.variant_name = v.variant_name AND mo.dt = v.dt
