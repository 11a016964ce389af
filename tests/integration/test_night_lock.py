"""Two runs of the same night at once: one publishes, the other exits naming the holder; a dead run's lock expires and
is taken over; nothing is corrupted and the lock is gone afterwards."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pipelines.aws import lake_session
from pipelines.lake import catalog
from pipelines.lake.lock import NightLocked, lock_uri, night_lock
from pipelines.lake.paths import split_s3_uri
from pipelines.lake.schemas import TABLES
from pipelines.nightly import NightResult, run_night
from pipelines.query.local import LocalLakeEngine
from tests.integration.lakehelpers import ACCOUNTS, DT, NIGHT, make_config, new_lake, published, seed_invocations


def _lock_exists(session: Any, uri: str) -> bool:
    bucket, key = split_s3_uri(uri)
    return bool(session.client("s3").list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount"))


def test_a_second_run_of_a_night_in_progress_exits_naming_the_first(stack: Any) -> None:
    seed_invocations(stack.metric_store, ACCOUNTS[0], "ep-a", NIGHT)
    config = make_config(stack.endpoint_url, statistics=["Sum"], lookback_days=0)
    session = new_lake(config)
    uri = lock_uri(config.lake, DT)
    with night_lock(session, config.lake, DT, "20261130T020000Z-first1"):
        assert _lock_exists(session, uri)
        with pytest.raises(NightLocked, match=r"night .* is being run by run 20261130T020000Z-first1 .*wait for it"):
            run_night(config, NIGHT, session=session, engine=LocalLakeEngine(session, config.lake))
        assert catalog.partition_location(session, config.lake, "cloudwatch_metrics", DT) is None  # nothing touched
    assert not _lock_exists(session, uri)  # released by its holder
    assert run_night(config, NIGHT, session=session, engine=LocalLakeEngine(session, config.lake)).ok
    assert not _lock_exists(session, uri)


def test_a_dead_runs_lock_expires_and_is_taken_over(stack: Any) -> None:
    seed_invocations(stack.metric_store, ACCOUNTS[0], "ep-a", NIGHT)
    config = make_config(stack.endpoint_url, statistics=["Sum"], lookback_days=0)
    session = new_lake(config)
    bucket, key = split_s3_uri(lock_uri(config.lake, DT))
    past = datetime.now(UTC) - timedelta(hours=1)
    dead = {
        "run_id": "dead",
        "host": "gone",
        "pid": 1,
        "acquired_at": (past - timedelta(hours=6)).isoformat(),
        "expires_at": past.isoformat(),
    }
    session.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(dead).encode())
    assert run_night(config, NIGHT, session=session, engine=LocalLakeEngine(session, config.lake)).ok
    assert not _lock_exists(session, lock_uri(config.lake, DT))


def test_two_runs_started_together_publish_once(stack: Any) -> None:
    for endpoint in ("ep-a", "ep-b"):
        seed_invocations(stack.metric_store, ACCOUNTS[0], endpoint, NIGHT)
    config = make_config(stack.endpoint_url, statistics=["Sum"], lookback_days=0)
    new_lake(config)
    start = threading.Barrier(2)
    outcomes: list[NightResult | Exception] = []

    def one_run() -> None:
        session = lake_session(config.lake.region, config.endpoint_url)
        start.wait()
        try:
            outcomes.append(run_night(config, NIGHT, session=session, engine=LocalLakeEngine(session, config.lake)))
        except NightLocked as error:
            outcomes.append(error)

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    results = [o for o in outcomes if isinstance(o, NightResult)]
    refused = [o for o in outcomes if isinstance(o, NightLocked)]
    assert len(results) == 1 and len(refused) == 1 and results[0].ok
    assert results[0].run_id in str(refused[0])
    session = lake_session(config.lake.region, config.endpoint_url)
    rows = published(session, config, "cloudwatch_metrics", DT)
    pairs = set(zip(rows["endpoint_name"].to_pylist(), rows["ts"].to_pylist(), strict=True))
    assert rows.num_rows == len(pairs) > 0 and {endpoint for endpoint, _ in pairs} == {"ep-a", "ep-b"}  # no duplicates


def test_a_holder_letting_go_between_our_refused_write_and_our_read_is_no_error(stack: Any) -> None:
    """The race at the AWS boundary: our conditional write is refused, then the holder deletes its lock just before
    we read it; the second attempt takes the free lock."""
    config = make_config(stack.endpoint_url)
    session = new_lake(config)
    other = lake_session(config.lake.region, config.endpoint_url).client("s3")
    bucket, key = split_s3_uri(lock_uri(config.lake, DT))
    other.put_object(Bucket=bucket, Key=key, Body=json.dumps({"run_id": "holder"}).encode())

    def holder_lets_go(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key") == key:
            other.delete_object(Bucket=bucket, Key=key)

    session.register_hook("before-parameter-build.s3.GetObject", holder_lets_go)
    with night_lock(session, config.lake, DT, "20261201T020000Z-second"):
        mine = json.loads(other.get_object(Bucket=bucket, Key=key)["Body"].read())
        assert mine["run_id"] == "20261201T020000Z-second"


def test_two_runs_making_a_new_lake_at_once_both_succeed(stack: Any) -> None:
    """The nights of a parallel backfill ensure the catalog before taking their own night's lock: when another run
    creates the database or a table between our look and our create (injected at the boundary), ours is no error."""
    config = make_config(stack.endpoint_url)
    session = new_lake(config)
    other = lake_session(config.lake.region, config.endpoint_url)
    raced: list[str] = []

    def other_run_first(params: dict[str, Any], event_name: str, **_: Any) -> None:
        if event_name.endswith("CreateDatabase") and not raced:
            catalog.ensure_database(other, config.lake)
            raced.append("database")
        elif event_name.endswith("CreateTable") and len(raced) == 1:
            name = params["TableInput"]["Name"]
            catalog.ensure_table(other, config.lake, TABLES[name])
            raced.append(name)

    session.register_hook("before-parameter-build.glue.CreateDatabase", other_run_first)
    session.register_hook("before-parameter-build.glue.CreateTable", other_run_first)
    catalog.ensure_lake(session, config.lake)
    assert len(raced) == 2  # both races happened
    assert catalog.ensure_table(session, config.lake, TABLES[raced[1]]) == "unchanged"
    names = {t["Name"] for t in session.client("glue").get_tables(DatabaseName=config.lake.database)["TableList"]}
    assert names >= set(TABLES)
