-- Question: do days with data drift line up with a drop in the business unit's conversion rate?
-- Who asks: the product analyst of a business unit and the data scientist owning its models.
-- How to read: one row per business unit and day. drift_violations counts violation rows of the unit's
--   endpoints for data quality, bias drift and feature attribution drift (not model quality);
--   conversion_rate is the unit's KPI that day (NULL when not delivered). Read down a unit's rows: rising
--   violations with falling conversion is worth a look; correlation is not cause.
SELECT
    business_unit,
    dt,
    drift_violations,
    conversion_rate
FROM ml_business_daily
ORDER BY business_unit, dt
