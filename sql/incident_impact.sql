-- incident_impact: what an ML incident cost the business. One row per business unit (endpoints.business_unit),
-- breach day (dt) and KPI (business_kpis.kpi_name) on every day on which at least one of the unit's endpoints
-- breached; the day's KPI value against a baseline of comparable days of the same unit and KPI.
--
-- Breaches, per endpoint variant and day (an endpoint breaches if any of its variants does):
--   latency  endpoint_daily.model_latency_p99_ms_worst_period > 2 x the median of the same variant's worst-period
--            p99 over the previous 7 days (at least one such day needed; median: approx_percentile on Athena,
--            exact nearest-rank locally)
--   errors   invocation_5xx_rate > 1%, or > 5 x the median 5xx rate of the previous 7 days when that median is > 0
--   drift    any drift_daily violation of a monitoring type other than ModelQuality (data quality, bias drift,
--            feature attribution drift), as counted by ml_business_daily
--   quality  any model_quality_daily metric breached (latest execution of the day)
-- Columns:
--   weekday                              ISO day of week of dt (1 = Monday .. 7 = Sunday)
--   latency_breaches, error_breaches, drift_breaches, quality_breaches
--                                        endpoints of the unit with that kind of breach that day
--   incident                             TRUE when the day had a latency or error breach (an outage-like
--                                        incident), FALSE when only drift or quality was breached
--   breached_endpoints                   the breaching endpoints' names, sorted, comma-separated
--   kpi_name, value                      the KPI and its value that day (NULL when the KPI was not delivered)
--   baseline                             'same_weekday': mean of the same weekday 1-4 weeks earlier;
--                                        'trailing_7d': no same-weekday day, mean of the previous 7 days;
--                                        NULL: neither exists (no baseline, no delta)
--   baseline_value, baseline_days        the baseline's mean and the number of days averaged
--   delta, delta_pct                     value - baseline_value, and delta / baseline_value (a ratio: -0.05 is -5%)
-- Baseline days are days on which the unit delivered the KPI and had no latency or error breach (so one
-- incident does not hide in another's baseline); drift and quality breaches do not exclude a day.
WITH
latency AS (
    SELECT
        d.account_id, d.region, d.endpoint_name, d.variant_name, d.dt,
        max(d.model_latency_p99_ms_worst_period) AS p99_ms,
        approx_percentile(p.model_latency_p99_ms_worst_period, 0.5) AS p99_ms_prev7_median,
        approx_percentile(p.invocation_5xx_rate, 0.5) AS rate_5xx_prev7_median,
        max(d.invocation_5xx_rate) AS rate_5xx,
        count(p.model_latency_p99_ms_worst_period) AS prev_days
    FROM endpoint_daily AS d
    LEFT JOIN endpoint_daily AS p
        ON p.account_id = d.account_id AND p.region = d.region
       AND p.endpoint_name = d.endpoint_name AND p.variant_name = d.variant_name
       AND date_diff('day', CAST(date_parse(p.dt, '%Y-%m-%d') AS DATE), CAST(date_parse(d.dt, '%Y-%m-%d') AS DATE))
           BETWEEN 1 AND 7
    GROUP BY d.account_id, d.region, d.endpoint_name, d.variant_name, d.dt
),
endpoint_breaches AS (
    SELECT
        endpoint_name, dt,
        max(CASE WHEN prev_days > 0 AND p99_ms > 2 * p99_ms_prev7_median THEN 1 ELSE 0 END) AS latency,
        max(CASE WHEN rate_5xx > 0.01 OR (rate_5xx_prev7_median > 0 AND rate_5xx > 5 * rate_5xx_prev7_median)
                 THEN 1 ELSE 0 END) AS errors,
        0 AS drift,
        0 AS quality
    FROM latency
    GROUP BY endpoint_name, dt
    UNION ALL
    SELECT endpoint_name, dt, 0, 0, 1, 0
    FROM drift_daily
    WHERE monitoring_type <> 'ModelQuality' AND violations > 0 AND endpoint_name IS NOT NULL
    UNION ALL
    SELECT endpoint_name, dt, 0, 0, 0, 1
    FROM model_quality_daily
    WHERE breached AND endpoint_name IS NOT NULL
),
per_endpoint AS (
    SELECT e.business_unit, b.endpoint_name, b.dt,
           max(b.latency) AS latency, max(b.errors) AS errors, max(b.drift) AS drift, max(b.quality) AS quality
    FROM endpoint_breaches AS b
    JOIN endpoints AS e ON e.endpoint_name = b.endpoint_name
    GROUP BY e.business_unit, b.endpoint_name, b.dt
),
unit_days AS (
    SELECT
        business_unit,
        dt,
        CAST(date_parse(dt, '%Y-%m-%d') AS DATE) AS day,
        CAST(sum(latency) AS BIGINT) AS latency_breaches,
        CAST(sum(errors) AS BIGINT) AS error_breaches,
        CAST(sum(drift) AS BIGINT) AS drift_breaches,
        CAST(sum(quality) AS BIGINT) AS quality_breaches,
        array_join(array_sort(array_agg(endpoint_name)), ', ') AS breached_endpoints
    FROM per_endpoint
    WHERE latency + errors + drift + quality > 0
    GROUP BY business_unit, dt
),
kpis AS (
    SELECT business_unit, kpi_name, dt, CAST(date_parse(dt, '%Y-%m-%d') AS DATE) AS day, max(value) AS value
    FROM business_kpis
    GROUP BY business_unit, kpi_name, dt
),
incident_days AS (
    SELECT business_unit, dt FROM unit_days WHERE latency_breaches + error_breaches > 0
),
clean_kpis AS (
    SELECT k.*
    FROM kpis AS k
    LEFT JOIN incident_days AS i ON i.business_unit = k.business_unit AND i.dt = k.dt
    WHERE i.dt IS NULL
),
unit_kpis AS (
    SELECT DISTINCT business_unit, kpi_name FROM kpis
),
candidates AS (
    SELECT
        u.business_unit, u.dt, uk.kpi_name,
        CASE WHEN date_diff('day', c.day, u.day) IN (7, 14, 21, 28) THEN 'same_weekday' ELSE 'trailing_7d' END AS kind,
        c.value
    FROM unit_days AS u
    JOIN unit_kpis AS uk ON uk.business_unit = u.business_unit
    JOIN clean_kpis AS c
        ON c.business_unit = u.business_unit AND c.kpi_name = uk.kpi_name
       AND (date_diff('day', c.day, u.day) IN (7, 14, 21, 28) OR date_diff('day', c.day, u.day) BETWEEN 1 AND 7)
),
baselines AS (
    SELECT
        business_unit, dt, kpi_name,
        CASE WHEN count_if(kind = 'same_weekday') > 0 THEN 'same_weekday' ELSE 'trailing_7d' END AS baseline,
        CASE WHEN count_if(kind = 'same_weekday') > 0
             THEN avg(CASE WHEN kind = 'same_weekday' THEN value END)
             ELSE avg(CASE WHEN kind = 'trailing_7d' THEN value END) END AS baseline_value,
        CASE WHEN count_if(kind = 'same_weekday') > 0
             THEN count_if(kind = 'same_weekday')
             ELSE count_if(kind = 'trailing_7d') END AS baseline_days
    FROM candidates
    GROUP BY business_unit, dt, kpi_name
)
SELECT
    u.business_unit,
    u.dt,
    day_of_week(u.day) AS weekday,
    u.latency_breaches,
    u.error_breaches,
    u.drift_breaches,
    u.quality_breaches,
    u.latency_breaches + u.error_breaches > 0 AS incident,
    u.breached_endpoints,
    uk.kpi_name,
    k.value,
    b.baseline,
    b.baseline_value,
    CAST(coalesce(b.baseline_days, 0) AS BIGINT) AS baseline_days,
    k.value - b.baseline_value AS delta,
    (k.value - b.baseline_value) / nullif(b.baseline_value, 0) AS delta_pct
FROM unit_days AS u
JOIN unit_kpis AS uk ON uk.business_unit = u.business_unit
LEFT JOIN kpis AS k ON k.business_unit = u.business_unit AND k.kpi_name = uk.kpi_name AND k.dt = u.dt
LEFT JOIN baselines AS b ON b.business_unit = u.business_unit AND b.kpi_name = uk.kpi_name AND b.dt = u.dt
