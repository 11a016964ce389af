-- Question: what do incident days cost: revenue and conversion on days with an ML incident against normal days?
-- Who asks: the head of a business unit and finance, after an outage review.
-- How to read: one row per business unit, day type (weekday or weekend, compared only with each other since
--   weekends are quieter) and kind of day. incident days are days on which any of the unit's endpoints had a
--   latency or 5xx breach (see incident_impact); normal days are the unit's other days with KPIs (drift alone does
--   not make an incident). avg_revenue and avg_conversion_rate are means over those days.
WITH incidents AS (
    SELECT DISTINCT business_unit, dt FROM incident_impact WHERE incident
),
kpis AS (
    SELECT
        k.business_unit,
        k.dt,
        CASE WHEN day_of_week(date_parse(k.dt, '%Y-%m-%d')) >= 6 THEN 'weekend' ELSE 'weekday' END AS day_type,
        CASE WHEN i.dt IS NULL THEN 'normal' ELSE 'incident' END AS kind,
        max(CASE WHEN k.kpi_name = 'revenue' THEN k.value END) AS revenue,
        max(CASE WHEN k.kpi_name = 'conversion_rate' THEN k.value END) AS conversion_rate
    FROM business_kpis AS k
    LEFT JOIN incidents AS i ON i.business_unit = k.business_unit AND i.dt = k.dt
    GROUP BY k.business_unit, k.dt, i.dt
)
SELECT
    business_unit,
    day_type,
    kind,
    count(*) AS days,
    avg(revenue) AS avg_revenue,
    avg(conversion_rate) AS avg_conversion_rate
FROM kpis
GROUP BY business_unit, day_type, kind
ORDER BY business_unit, day_type, kind
