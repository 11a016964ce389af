-- Question: which business units' KPIs were restated after their day was first published, and what do we hold now?
-- Who asks: finance and the analysts whose reports quoted a KPI that later changed (late chargebacks, fixes).
-- How to read: one row per KPI day (dt) and business unit whose current KPI rows were loaded by a later run than
--   the one that first published that day (pipeline_runs, business_kpis, status published). loads is the number
--   of runs that published the day's partition; first_published when the first finished; restated_at when the
--   rows the lake holds now were loaded; current_source the file they came from. A report built before
--   restated_at shows old numbers for that unit and day. Units whose rows were merely carried over are not listed.
WITH loads AS (
    SELECT dt, count(DISTINCT run_id) AS loads, min(finished_at) AS first_published
    FROM pipeline_runs
    WHERE table_name = 'business_kpis' AND status = 'published'
    GROUP BY dt
)
SELECT
    k.dt,
    k.business_unit,
    l.loads,
    l.first_published,
    max(k.loaded_at) AS restated_at,
    max(k.source_uri) AS current_source
FROM business_kpis AS k
JOIN loads AS l ON l.dt = k.dt
GROUP BY k.dt, k.business_unit, l.loads, l.first_published
HAVING max(k.loaded_at) > l.first_published
ORDER BY k.dt, k.business_unit
