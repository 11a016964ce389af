"""A night killed at every step: after staging, between two partition switches, before the views, during a
quarantine. Each time readers see every table whole (its old partition or its new one), and the next run recovers:
it takes over the dead run's lock, publishes exactly once, and deletes what the dead run left behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pipelines.audit.quarantine import list_quarantined
from pipelines.aws import Session
from pipelines.config import Config
from pipelines.lake.catalog_views import stored_views
from pipelines.lake.lock import lock_uri
from pipelines.lake.paths import split_s3_uri
from pipelines.lake.trash import GRACE, empty_trash
from pipelines.nightly import run_night
from pipelines.publish.views import load_views
from pipelines.query.local import LocalLakeEngine
from tests.integration.killpoints import KILLED, LANDERS, KillPoint, night_killed_at
from tests.integration.lakehelpers import ACCOUNTS, DT, NIGHT, make_config, new_lake, published, seed_invocations

CLOUDWATCH = {"statistics": ["Sum"], "lookback_days": 0}
TABLES = ("cloudwatch_metrics", "endpoints")

AFTER_STAGING = KillPoint("before-parameter-build.glue.UpdatePartition", ("TableName",), "cloudwatch_metrics")
BETWEEN_SWITCHES = KillPoint("before-parameter-build.glue.UpdateTable", ("TableInput", "Name"), "endpoints")
BEFORE_VIEWS = KillPoint("before-parameter-build.glue.CreateTable", ("TableInput", "TableType"), "VIRTUAL_VIEW")
DURING_QUARANTINE = KillPoint("before-parameter-build.s3.PutObject", ("Key",), "_quarantine/cloudwatch_metrics/")


def _dead_run_id() -> str:
    """A run that started 7 hours ago and died: old enough for the next switch to sweep what it staged."""
    return f"{datetime.now(UTC) - timedelta(hours=7):%Y%m%dT%H%M%SZ}-dead00"


def _seen(session: Session, config: Config) -> dict[str, list[tuple[str, ...]]]:
    seen = {}
    for table in TABLES:
        rows = published(session, config, table, DT if table == "cloudwatch_metrics" else None).to_pylist()
        seen[table] = sorted(tuple(str(v) for k, v in sorted(r.items()) if k not in ("landed_at", "ingested_at")) for r in rows)
    return seen


def _run_prefixes(session: Session, config: Config, *, quarantine: bool = False) -> set[str]:
    """Every run prefix of the night's cloudwatch_metrics partition in the bucket (published or not), or in quarantine."""
    s3 = session.client("s3")
    prefix = f"{config.lake.prefix}{'_quarantine/' if quarantine else ''}cloudwatch_metrics/dt={DT}/"
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=config.lake.bucket, Prefix=prefix, Delimiter="/")
    return {p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])}


def _night(session: Session, config: Config) -> Any:
    return run_night(config, NIGHT, session=session, engine=LocalLakeEngine(session, config.lake), landers=LANDERS)


def _published_lake(stack: Any) -> tuple[Session, Config, dict[str, list[tuple[str, ...]]]]:
    for account in ACCOUNTS:
        seed_invocations(stack.metric_store, account, "ep-a", NIGHT)
    config = make_config(stack.endpoint_url, **CLOUDWATCH)
    session = new_lake(config)
    assert _night(session, config).ok
    return session, config, _seen(session, config)


@pytest.mark.parametrize("point", [AFTER_STAGING, BETWEEN_SWITCHES], ids=["after-staging", "between-switches"])
def test_a_night_killed_while_switching_leaves_whole_tables_and_the_next_run_recovers(stack: Any, point: KillPoint) -> None:
    session, config, old = _published_lake(stack)
    seed_invocations(stack.metric_store, ACCOUNTS[0], "ep-b", NIGHT)  # tonight's data differs from what is published

    dead = _dead_run_id()
    assert night_killed_at(stack.endpoint_url, CLOUDWATCH, NIGHT, dead, point) == KILLED
    during = _seen(session, config)
    if point is AFTER_STAGING:
        assert during == old  # nothing was switched in
        assert len(_run_prefixes(session, config)) == 2  # the published run and the dead one's staging

    result = _night(session, config)  # the dead run's lock is taken over: its process is gone
    assert result.ok, result.summary()
    new = _seen(session, config)
    assert len(new["cloudwatch_metrics"]) > len(old["cloudwatch_metrics"])
    assert len(set(new["cloudwatch_metrics"])) == len(new["cloudwatch_metrics"])  # no duplicates
    for table in TABLES:
        assert during[table] in (old[table], new[table]), table  # whole: the old partition or the new one
    if point is BETWEEN_SWITCHES:
        assert during["cloudwatch_metrics"] == new["cloudwatch_metrics"]  # the first switch had happened
    if point is AFTER_STAGING:  # the dead run's staging (never published, 7 h old) was swept at the switch
        assert not any(dead in prefix for prefix in _run_prefixes(session, config))
    empty_trash(session, config.lake, now=datetime.now(UTC) + GRACE + timedelta(minutes=1))  # a night after the grace
    assert len(_run_prefixes(session, config)) == 1  # only what readers see
    bucket, key = split_s3_uri(lock_uri(config.lake, DT))
    assert session.client("s3").list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount") == 0  # released


def test_a_first_night_killed_before_its_views_gets_them_from_the_next_run(stack: Any) -> None:
    seed_invocations(stack.metric_store, ACCOUNTS[0], "ep-a", NIGHT)
    config = make_config(stack.endpoint_url, **CLOUDWATCH)
    session = new_lake(config)

    assert night_killed_at(stack.endpoint_url, CLOUDWATCH, NIGHT, _dead_run_id(), BEFORE_VIEWS) == KILLED
    landed = _seen(session, config)
    assert landed["cloudwatch_metrics"] and not stored_views(session, config.lake)  # data switched in, no views yet

    result = _night(session, config)
    assert result.ok, result.summary()
    assert _seen(session, config) == landed  # the same rows, once
    assert set(stored_views(session, config.lake)) == set(load_views())
    engine = LocalLakeEngine(session, config.lake)
    assert engine.run("SELECT count(*) AS n FROM endpoint_daily").to_pylist()[0]["n"] > 0


def test_a_night_killed_during_a_quarantine_leaves_readers_the_old_partition_and_the_next_run_quarantines_it(
    stack: Any,
) -> None:
    session, config, old = _published_lake(stack)
    seed_invocations(stack.metric_store, ACCOUNTS[0], "ep-b", NIGHT, value=-5.0)  # negative counts: a critical failure

    dead = _dead_run_id()
    assert night_killed_at(stack.endpoint_url, CLOUDWATCH, NIGHT, dead, DURING_QUARANTINE) == KILLED
    assert _seen(session, config) == old
    assert {p.rstrip("/").rsplit("=", 1)[1] for p in _run_prefixes(session, config, quarantine=True)} == {
        dead
    }  # data, no verdict
    assert not list_quarantined(session, config.lake)  # a half entry is nobody's to release

    result = _night(session, config)
    assert [o.staged.table for o in result.quarantined] == ["cloudwatch_metrics"]
    assert _seen(session, config) == old  # still the last good partition
    assert len(_run_prefixes(session, config)) == 1  # only the published run: both held-back runs left it
    held = list_quarantined(session, config.lake, "cloudwatch_metrics")
    assert [q.run_id for q in held] == [result.run_id]
    assert _run_prefixes(session, config, quarantine=True) == {held[0].uri.split("/", 3)[3]}  # the dead run's half entry: swept
