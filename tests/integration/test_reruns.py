"""Four runs of the same night: every table readers see is identical row for row after each, with no duplicates and
no objects left behind beside the published ones. (Four, not more: a leftover or a duplicate per rerun shows on the
second run already; each night costs ~1.4 CPU-s of the suite.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pipelines.aws import Session
from pipelines.config import Config
from pipelines.lake.trash import GRACE, empty_trash
from pipelines.nightly import run_night
from pipelines.query.local import LocalLakeEngine
from tests.integration.lakehelpers import DT, NIGHT, published, published_night, readers_see

RERUNS = 4


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


def test_reruns_of_a_night_leave_the_same_rows_and_no_leftovers(stack: Any) -> None:
    config, session, first = published_night(stack)
    engine = LocalLakeEngine(session, config.lake)
    objects = _objects(session, config)
    assert first["cloudwatch_metrics"] and len(first["cloudwatch_metrics"]) == len(set(first["cloudwatch_metrics"]))
    for _ in range(RERUNS - 1):
        assert run_night(config, NIGHT, session=session, engine=engine).ok
        assert readers_see(session, config) == first
    # Each switch put the run it replaced in the trash (a query planned before it still reads it whole); once the
    # grace is over, the next night's end deletes them all, leaving exactly what one night leaves.
    assert _objects(session, config) > objects
    empty_trash(session, config.lake, now=datetime.now(UTC) + GRACE + timedelta(minutes=1))
    assert _objects(session, config) == objects
    runs = published(session, config, "pipeline_runs", DT).to_pylist()
    assert len({r["run_id"] for r in runs}) == RERUNS  # every run is recorded, once per table
