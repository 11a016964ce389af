"""Readers while a night publishes: every query sees a partition's old files or its new ones, never a mix and
never an error - also a query that listed the old files before the switch and reads them after it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import awswrangler as wr

from pipelines.aws import Session
from pipelines.config import Config
from pipelines.lake import catalog
from pipelines.lake.schemas import TABLES
from pipelines.lake.staging import read_table
from pipelines.lake.trash import GRACE, Replaced, defer_delete, empty_trash, pending
from pipelines.nightly import run_night
from pipelines.query.local import LocalLakeEngine
from tests.integration.killpoints import LANDERS
from tests.integration.lakehelpers import ACCOUNTS, DT, NIGHT, make_config, new_lake, seed_invocations

COUNT = f"SELECT count(*) AS n FROM cloudwatch_metrics WHERE dt = '{DT}'"


def _one_night(stack: Any) -> tuple[Config, Session, LocalLakeEngine]:
    """A lake with NIGHT's cloudwatch_metrics partition published from one endpoint."""
    seed_invocations(stack.metric_store, ACCOUNTS[0], "ep-a", NIGHT)
    config = make_config(stack.endpoint_url, statistics=["Sum"], lookback_days=0)
    session = new_lake(config)
    engine = LocalLakeEngine(session, config.lake)
    assert run_night(config, NIGHT, session=session, engine=engine, landers=LANDERS).ok
    return config, session, engine


def test_queries_during_a_publish_see_the_old_partition_or_the_new_one_whole(stack: Any) -> None:
    config, session, engine = _one_night(stack)
    old = engine.run(COUNT).to_pylist()[0]["n"]

    # A query planned now: it lists the partition's files, as Athena does, and reads them after the switch below.
    planned = wr.s3.list_objects(
        catalog.partition_location(session, config.lake, "cloudwatch_metrics", DT), boto3_session=session
    )
    before = read_table(session, planned, TABLES["cloudwatch_metrics"].schema)

    seed_invocations(stack.metric_store, ACCOUNTS[1], "ep-b", NIGHT)  # tonight has more rows
    seen: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def reader() -> None:
        mine = LocalLakeEngine(session, config.lake)
        while not done.is_set():
            try:
                seen.append(mine.run(COUNT).to_pylist()[0]["n"])
            except Exception as error:  # noqa: BLE001 - any failure is what this test looks for
                errors.append(error)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        assert run_night(config, NIGHT, session=session, engine=engine, landers=LANDERS).ok
    finally:
        done.set()
        thread.join(timeout=120)
    new = engine.run(COUNT).to_pylist()[0]["n"]

    assert new > old
    assert not errors, errors[:3]
    assert seen and set(seen) <= {old, new}, (old, new, sorted(set(seen)))
    after = read_table(session, planned, TABLES["cloudwatch_metrics"].schema)  # the planned query's files, still whole
    assert after.equals(before) and after.num_rows == old


def test_the_trash_keeps_a_replaced_partition_for_the_grace_and_never_deletes_what_readers_see(stack: Any) -> None:
    config, session, engine = _one_night(stack)
    first = catalog.partition_location(session, config.lake, "cloudwatch_metrics", DT)
    assert run_night(config, NIGHT, session=session, engine=engine, landers=LANDERS).ok
    current = catalog.partition_location(session, config.lake, "cloudwatch_metrics", DT)
    assert first and current and first != current and pending(session, config.lake, first)

    assert empty_trash(session, config.lake) == []  # within the grace: kept
    assert wr.s3.list_objects(first, boto3_session=session)
    # An entry for what readers see now (e.g. a quarantine released back in): never deleted, the entry dropped.
    defer_delete(session, config.lake, Replaced("cloudwatch_metrics", DT, current, "test", datetime.now(UTC) - 2 * GRACE))
    later = datetime.now(UTC) + GRACE + timedelta(minutes=1)
    assert first in empty_trash(session, config.lake, now=later)
    assert not wr.s3.list_objects(first, boto3_session=session)
    assert wr.s3.list_objects(current, boto3_session=session) and not pending(session, config.lake, current)
    assert empty_trash(session, config.lake, now=later) == []
