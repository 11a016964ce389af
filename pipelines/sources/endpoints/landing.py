"""The `endpoints` source: the config's endpoint mapping, staged every night (an unpartitioned table)."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from pipelines.aws import Session
from pipelines.config import Config
from pipelines.lake.schemas import ENDPOINTS
from pipelines.lake.staging import Stager
from pipelines.sources.landing import Landing, SourceLander

SOURCE = ENDPOINTS.name


def land_endpoints(session: Session, config: Config, night: date, run_id: str) -> Landing:
    """One file from the config: what readers join ML health to business results by."""
    rows = [
        {"endpoint_name": name, **e.model_dump(include={"business_unit", "product", "owner"})}
        for name, e in sorted(config.endpoints.items())
    ]
    stager = Stager(session, config.lake, ENDPOINTS, run_id)
    stager.add(None, "part-config", pa.Table.from_pylist(rows, schema=ENDPOINTS.schema))
    return Landing(SOURCE, stager.staged(), counts={"rows": len(rows)})


LANDER = SourceLander(SOURCE, land_endpoints)
