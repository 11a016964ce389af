-- Question: how much of each endpoint's error budget did we burn over the period in the lake?
-- Who asks: endpoint owners and the SRE lead, when deciding whether to freeze deployments.
-- How to read: one row per endpoint. The SLO is 99.9% availability, counted as requests that did not fail
--   with a 5xx: the budget is 0.1% of the period's invocations. budget_burn = 5xx errors / budget: 1.0 means
--   the whole budget is spent, above 1.0 the SLO is missed. availability is 1 - 5xx rate.
SELECT
    endpoint_name,
    min(dt) AS first_day,
    max(dt) AS last_day,
    sum(invocations) AS invocations,
    sum(invocation_5xx_errors) AS errors_5xx,
    1 - CAST(sum(invocation_5xx_errors) AS DOUBLE) / nullif(sum(invocations), 0) AS availability,
    0.001 * sum(invocations) AS error_budget,
    CAST(sum(invocation_5xx_errors) AS DOUBLE) / nullif(0.001 * sum(invocations), 0) AS budget_burn
FROM endpoint_daily
GROUP BY endpoint_name
ORDER BY budget_burn DESC
