-- Question: which configured endpoints served no traffic yesterday?
-- Who asks: the platform team hunting idle (but billed) endpoints, and owners checking a client is not broken.
-- How to read: one row per endpoint of the configuration (the endpoints table) with no invocations on the lake's
--   latest day (in the nightly lake that is yesterday, UTC). invocations is 0 when CloudWatch reported zero
--   traffic, NULL when it reported nothing at all for the endpoint that day. An empty answer is good news.
WITH latest AS (
    SELECT max(dt) AS dt FROM endpoint_daily
),
traffic AS (
    SELECT d.endpoint_name, sum(d.invocations) AS invocations
    FROM endpoint_daily AS d
    JOIN latest AS l ON l.dt = d.dt
    GROUP BY d.endpoint_name
)
SELECT
    e.endpoint_name,
    e.business_unit,
    e.owner,
    l.dt AS day,
    t.invocations
FROM endpoints AS e
CROSS JOIN latest AS l
LEFT JOIN traffic AS t ON t.endpoint_name = e.endpoint_name
WHERE coalesce(t.invocations, 0) = 0
ORDER BY e.endpoint_name
