-- endpoint_rightsizing: one row per endpoint variant (account_id, region, endpoint_name, variant_name) and day (dt):
-- how busy its instances were against what they are, to find endpoints to shrink or to grow.
--
-- Serving (endpoint_models of the same dt, the newest observation; NULL when not observed):
--   instance_type, instance_count, and from the instance type's size:
--   vcpus  large 2, xlarge 4, Nxlarge 4 x N (medium 1)
--   gpus   ml.g*: 1, but 4 at 12xlarge and 24xlarge, 8 at 48xlarge; ml.p*: 1 at 2xlarge, 4 at 8xlarge, else 8; others 0
-- Utilisation, percent of one instance's capacity, from the periods' Average (/aws/sagemaker/Endpoints):
--   SageMaker sums CPUUtilization over vCPUs and GPUUtilization over GPUs (up to 100 x their count):
--   divided here, so 100 means every core busy. MemoryUtilization is a percent already.
--   cpu_utilization_avg, cpu_utilization_p90, memory_utilization_avg, memory_utilization_p90,
--   gpu_utilization_avg, gpu_utilization_p90 (NULL without GPUs); cpu and gpu NULL without a known instance type.
--   (p90 is approx_percentile on Athena; locally it is an exact nearest-rank percentile.)
-- peak_utilization_p90: the busiest resource's p90 (NULL without a known instance type).
-- recommendation: 'downsize' when even the busiest resource stays under 20 % for 90 % of the day,
--   'upsize' when one stays over 80 % for more than 10 % of the day, else 'ok'; NULL when peak is NULL.
WITH periods AS (
    SELECT account_id, region, endpoint_name, variant_name, dt, metric_name, value
    FROM cloudwatch_metrics
    WHERE namespace = '/aws/sagemaker/Endpoints'
      AND stat = 'Average'
      AND metric_name IN ('CPUUtilization', 'MemoryUtilization', 'GPUUtilization')
      AND endpoint_name IS NOT NULL
      AND variant_name IS NOT NULL
),
models AS (
    SELECT account_id, region, endpoint_name, variant_name, dt, instance_type, instance_count
    FROM (
        SELECT m.*,
               row_number() OVER (
                   PARTITION BY account_id, region, endpoint_name, variant_name, dt ORDER BY observed_at DESC
               ) AS newest
        FROM endpoint_models m
    ) observed
    WHERE newest = 1
),
sized AS (
    SELECT
        account_id, region, endpoint_name, variant_name, dt, instance_type, instance_count,
        CASE split_part(instance_type, '.', 3)
            WHEN 'medium' THEN 1
            WHEN 'large' THEN 2
            WHEN 'xlarge' THEN 4
            ELSE 4 * CAST(NULLIF(regexp_extract(split_part(instance_type, '.', 3), '^([0-9]+)xlarge$', 1), '') AS INTEGER)
        END AS vcpus,
        CASE
            WHEN instance_type IS NULL THEN NULL
            WHEN split_part(instance_type, '.', 2) LIKE 'g%' THEN
                CASE split_part(instance_type, '.', 3) WHEN '12xlarge' THEN 4 WHEN '24xlarge' THEN 4 WHEN '48xlarge' THEN 8 ELSE 1 END
            WHEN split_part(instance_type, '.', 2) LIKE 'p%' THEN
                CASE split_part(instance_type, '.', 3) WHEN '2xlarge' THEN 1 WHEN '8xlarge' THEN 4 ELSE 8 END
            ELSE 0
        END AS gpus
    FROM models
),
usage AS (
    SELECT
        p.account_id, p.region, p.endpoint_name, p.variant_name, p.dt,
        avg(CASE WHEN p.metric_name = 'CPUUtilization' THEN p.value / s.vcpus END) AS cpu_utilization_avg,
        approx_percentile(CASE WHEN p.metric_name = 'CPUUtilization' THEN p.value / s.vcpus END, 0.9) AS cpu_utilization_p90,
        avg(CASE WHEN p.metric_name = 'MemoryUtilization' THEN p.value END) AS memory_utilization_avg,
        approx_percentile(CASE WHEN p.metric_name = 'MemoryUtilization' THEN p.value END, 0.9) AS memory_utilization_p90,
        avg(CASE WHEN p.metric_name = 'GPUUtilization' THEN p.value / NULLIF(s.gpus, 0) END) AS gpu_utilization_avg,
        approx_percentile(CASE WHEN p.metric_name = 'GPUUtilization' THEN p.value / NULLIF(s.gpus, 0) END, 0.9)
            AS gpu_utilization_p90
    FROM periods p
    LEFT JOIN sized s
        ON s.account_id = p.account_id AND s.region = p.region AND s.endpoint_name = p.endpoint_name
       AND s.variant_name = p.variant_name AND s.dt = p.dt
    GROUP BY p.account_id, p.region, p.endpoint_name, p.variant_name, p.dt
),
peaks AS (
    SELECT
        u.*,
        -- greatest() of non-null values only: Athena returns NULL when any argument is NULL, DuckDB skips them
        CASE WHEN u.cpu_utilization_p90 IS NULL THEN NULL
             ELSE greatest(u.cpu_utilization_p90, coalesce(u.memory_utilization_p90, 0), coalesce(u.gpu_utilization_p90, 0))
        END AS peak_utilization_p90
    FROM usage u
)
SELECT
    k.account_id, k.region, k.endpoint_name, k.variant_name, k.dt,
    s.instance_type, s.instance_count, s.vcpus, s.gpus,
    k.cpu_utilization_avg, k.cpu_utilization_p90,
    k.memory_utilization_avg, k.memory_utilization_p90,
    k.gpu_utilization_avg, k.gpu_utilization_p90,
    k.peak_utilization_p90,
    CASE WHEN k.peak_utilization_p90 IS NULL THEN NULL
         WHEN k.peak_utilization_p90 < 20 THEN 'downsize'
         WHEN k.peak_utilization_p90 > 80 THEN 'upsize'
         ELSE 'ok'
    END AS recommendation
FROM peaks k
LEFT JOIN sized s
    ON s.account_id = k.account_id AND s.region = k.region AND s.endpoint_name = k.endpoint_name
   AND s.variant_name = k.variant_name AND s.dt = k.dt
