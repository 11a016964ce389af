"""Ten runs of the same night: every table readers see is identical row for row after each, with no duplicates and
no objects left behind beside the published ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from pipelines.aws import Session
from pipelines.config import Config
from pipelines.lake.schemas import AUDITED
from pipelines.lake.trash import GRACE, empty_trash
from pipelines.nightly import run_night
from pipelines.query.local import LocalLakeEngine
from tests.integration.lakehelpers import ACCOUNTS, DT, NIGHT, make_config, new_lake, published, seed_invocations

RERUNS = 10


def _readers_see(session: Session, config: Config) -> dict[str, list[tuple[Any, ...]]]:
    """Every audited table's published rows for the night (unpartitioned: the table), sorted, ingestion-free."""
    seen = {}
    for spec in AUDITED:
        table: pa.Table = published(session, config, spec.name, DT if spec.partitioned else None)
        rows = [tuple(str(v) for k, v in sorted(r.items()) if k not in ("landed_at", "ingested_at")) for r in table.to_pylist()]
        seen[spec.name] = sorted(rows)
    return seen


def _objects(session: Session, config: Config) -> int:
    pages = session.client("s3").get_paginator("list_objects_v2").paginate(Bucket=config.lake.bucket, Prefix=config.lake.prefix)
    return sum(
        1
        for page in pages
        for o in page.get("Contents", [])
        if not o["Key"].startswith(f"{config.lake.prefix}_")
        and "/pipeline_runs/" not in o["Key"]
        and "/validation_results/" not in o["Key"]
    )


def test_ten_reruns_of_a_night_leave_the_same_rows_and_no_leftovers(stack: Any) -> None:
    for account in ACCOUNTS:
        for endpoint in ("ep-a", "ep-b"):
            seed_invocations(stack.metric_store, account, endpoint, NIGHT)
    config = make_config(stack.endpoint_url, statistics=["Sum", "Maximum"], lookback_days=0)
    session = new_lake(config)
    engine = LocalLakeEngine(session, config.lake)
    assert run_night(config, NIGHT, session=session, engine=engine).ok
    first, objects = _readers_see(session, config), _objects(session, config)
    assert first["cloudwatch_metrics"] and len(first["cloudwatch_metrics"]) == len(set(first["cloudwatch_metrics"]))
    for _ in range(RERUNS - 1):
        assert run_night(config, NIGHT, session=session, engine=engine).ok
        assert _readers_see(session, config) == first
    # Each switch put the run it replaced in the trash (a query planned before it still reads it whole); once the
    # grace is over, the next night's end deletes them all, leaving exactly what one night leaves.
    assert _objects(session, config) > objects
    empty_trash(session, config.lake, now=datetime.now(UTC) + GRACE + timedelta(minutes=1))
    assert _objects(session, config) == objects
    runs = published(session, config, "pipeline_runs", DT).to_pylist()
    assert len({r["run_id"] for r in runs}) == RERUNS  # every run is recorded, once per table
