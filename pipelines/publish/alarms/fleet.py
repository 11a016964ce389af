"""The endpoints alarms and the operations dashboard are made for: the fleet as the lake last saw it."""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.query.engine import QueryEngine

# The newest lineage snapshot says where each endpoint serves; Model Monitor's executions say which are monitored.
FLEET_SQL = """
WITH newest AS (SELECT max(dt) AS dt FROM endpoint_models),
monitored AS (SELECT DISTINCT account_id, region, endpoint_name FROM monitor_executions)
SELECT m.account_id, m.region, m.endpoint_name, m.variant_name,
       coalesce(e.business_unit, 'unassigned') AS business_unit,
       mon.endpoint_name IS NOT NULL AS monitored
FROM endpoint_models m
JOIN newest n ON m.dt = n.dt
LEFT JOIN endpoints e ON e.endpoint_name = m.endpoint_name
LEFT JOIN monitored mon
    ON mon.account_id = m.account_id AND mon.region = m.region AND mon.endpoint_name = m.endpoint_name
WHERE m.variant_name IS NOT NULL
GROUP BY 1, 2, 3, 4, 5, 6
ORDER BY 1, 2, 3, 4
"""


@dataclass(frozen=True)
class FleetEndpoint:
    """One production variant of one endpoint, where it serves, and whether Model Monitor watches it."""

    account_id: str
    region: str
    endpoint_name: str
    variant_name: str
    business_unit: str
    monitored: bool


def fleet_of_lake(engine: QueryEngine) -> list[FleetEndpoint]:
    """Every endpoint variant of the newest lineage snapshot, with its business unit (Athena SQL: runs anywhere)."""
    return [FleetEndpoint(**row) for row in engine.run(FLEET_SQL).to_pylist()]
