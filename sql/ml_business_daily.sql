-- ml_business_daily: one row per business unit (endpoints.business_unit) and day (dt) that has ML data or KPIs.
-- ML health of the unit's endpoints (endpoints are mapped by endpoint_name):
--   endpoints                          endpoint variants with a row in endpoint_daily that day
--   invocations                        sum of endpoint_daily.invocations
--   invocation_5xx_errors, invocation_5xx_rate   errors and errors / invocations (invocation-weighted; NULL without traffic)
--   model_latency_p99_ms_worst_period  the worst period p99 of any of its endpoints (see endpoint_daily)
--   drift_violations                   violation rows of drift_daily other than ModelQuality (data quality,
--                                      bias drift, feature attribution drift)
--   quality_breaches                   model_quality_daily metrics breached (latest execution of the day)
-- Business KPIs of that day (business_kpis pivoted; NULL when not delivered): revenue, conversion_rate,
--   orders, fraud_losses.
WITH health AS (
    SELECT
        e.business_unit,
        d.dt,
        count(*) AS endpoints,
        CAST(sum(d.invocations) AS BIGINT) AS invocations,
        CAST(sum(d.invocation_5xx_errors) AS BIGINT) AS invocation_5xx_errors,
        max(d.model_latency_p99_ms_worst_period) AS model_latency_p99_ms_worst_period
    FROM endpoint_daily AS d
    JOIN endpoints AS e ON e.endpoint_name = d.endpoint_name
    GROUP BY e.business_unit, d.dt
),
drift AS (
    SELECT e.business_unit, d.dt, CAST(sum(d.violations) AS BIGINT) AS drift_violations
    FROM drift_daily AS d
    JOIN endpoints AS e ON e.endpoint_name = d.endpoint_name
    WHERE d.monitoring_type <> 'ModelQuality'
    GROUP BY e.business_unit, d.dt
),
quality AS (
    SELECT e.business_unit, q.dt, CAST(sum(CASE WHEN q.breached THEN 1 ELSE 0 END) AS BIGINT) AS quality_breaches
    FROM model_quality_daily AS q
    JOIN endpoints AS e ON e.endpoint_name = q.endpoint_name
    GROUP BY e.business_unit, q.dt
),
kpis AS (
    SELECT
        business_unit,
        dt,
        max(CASE WHEN kpi_name = 'revenue' THEN value END) AS revenue,
        max(CASE WHEN kpi_name = 'conversion_rate' THEN value END) AS conversion_rate,
        max(CASE WHEN kpi_name = 'orders' THEN value END) AS orders,
        max(CASE WHEN kpi_name = 'fraud_losses' THEN value END) AS fraud_losses
    FROM business_kpis
    GROUP BY business_unit, dt
),
days AS (
    SELECT business_unit, dt FROM health
    UNION
    SELECT business_unit, dt FROM drift
    UNION
    SELECT business_unit, dt FROM quality
    UNION
    SELECT business_unit, dt FROM kpis
)
SELECT
    k.business_unit,
    k.dt,
    coalesce(h.endpoints, 0) AS endpoints,
    coalesce(h.invocations, 0) AS invocations,
    coalesce(h.invocation_5xx_errors, 0) AS invocation_5xx_errors,
    CAST(h.invocation_5xx_errors AS DOUBLE) / nullif(h.invocations, 0) AS invocation_5xx_rate,
    h.model_latency_p99_ms_worst_period,
    coalesce(dr.drift_violations, 0) AS drift_violations,
    coalesce(q.quality_breaches, 0) AS quality_breaches,
    kp.revenue,
    kp.conversion_rate,
    kp.orders,
    kp.fraud_losses
FROM days AS k
LEFT JOIN health AS h ON h.business_unit = k.business_unit AND h.dt = k.dt
LEFT JOIN drift AS dr ON dr.business_unit = k.business_unit AND dr.dt = k.dt
LEFT JOIN quality AS q ON q.business_unit = k.business_unit AND q.dt = k.dt
LEFT JOIN kpis AS kp ON kp.business_unit = k.business_unit AND kp.dt = k.dt
