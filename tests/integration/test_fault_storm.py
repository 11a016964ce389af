"""A whole night under a storm at the AWS boundary: a large share of CloudWatch, S3, Glue and STS calls throttled,
answered with HTTP 500/503 or timing out. With AWS's own retry policy the night completes with exactly the rows of
a calm night; when a service keeps failing past every retry, the night fails clearly and readers keep what they had."""

from __future__ import annotations

from typing import Any

from botocore.config import Config as BotoConfig

from pipelines.aws import Session
from pipelines.faults import Kind, classify
from pipelines.nightly import run_night
from pipelines.query.local import LocalLakeEngine
from tests.boundary_faults import Storm
from tests.integration.lakehelpers import ACCOUNTS, NIGHT, make_config, new_lake, seed_invocations
from tests.integration.test_reruns import _readers_see

SERVICES = frozenset({"cloudwatch", "s3", "glue", "sts"})


def _storm_session(config: Any, storm: Storm, retries: BotoConfig) -> Session:
    session = Session(
        endpoint_url=config.endpoint_url,
        region_name=config.lake.region,
        retries=retries,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    session.register_hook("before-send.*.*", storm)
    return session


def test_a_night_under_a_storm_of_throttling_5xx_and_timeouts_lands_what_a_calm_night_lands(stack: Any) -> None:
    for account in ACCOUNTS:
        for endpoint in ("ep-a", "ep-b"):
            seed_invocations(stack.metric_store, account, endpoint, NIGHT)
    config = make_config(stack.endpoint_url, statistics=["Sum", "Maximum"], lookback_days=0)
    calm = new_lake(config)
    assert run_night(config, NIGHT, session=calm, engine=LocalLakeEngine(calm, config.lake)).ok
    expected = _readers_see(calm, config)

    storm = Storm(share=0.3, services=SERVICES)  # 8 attempts like AWS (adaptive mode would only pace calls, slower)
    session = _storm_session(config, storm, BotoConfig(retries={"mode": "standard", "max_attempts": 8}))
    result = run_night(config, NIGHT, session=session, engine=LocalLakeEngine(session, config.lake))

    assert result.ok, result.summary()
    assert _readers_see(calm, config) == expected
    assert {key.split(":")[0] for key in storm.injected} == SERVICES, storm.injected
    assert sum(storm.injected.values()) > 30, storm.injected


def test_past_every_retry_a_night_completes_or_fails_clearly_and_readers_never_see_a_partial_partition(stack: Any) -> None:
    for account in ACCOUNTS:
        for endpoint in ("ep-a", "ep-b"):
            seed_invocations(stack.metric_store, account, endpoint, NIGHT)
    config = make_config(stack.endpoint_url, statistics=["Sum", "Maximum"], lookback_days=0)
    calm = new_lake(config)
    assert run_night(config, NIGHT, session=calm, engine=LocalLakeEngine(calm, config.lake)).ok
    expected = _readers_see(calm, config)
    storm = Storm(share=0.4, services=SERVICES, seed=3)
    session = _storm_session(config, storm, BotoConfig(retries={"mode": "standard", "max_attempts": 2}))
    try:
        result = run_night(config, NIGHT, session=session, engine=LocalLakeEngine(session, config.lake))
    except Exception as error:  # e.g. the night's lock could not be taken: the night ends before anything changes
        assert classify(error) is Kind.RETRIABLE, error
    else:
        summary = result.summary()
        assert not summary["ok"] and (summary["failed"] or summary["source_errors"]), summary
        for failure in summary["failed"] + summary["source_errors"]:
            assert "reached max retries" in failure or "Read timeout" in failure, failure  # says what kept failing
    assert sum(storm.injected.values()) > 30, storm.injected
    assert _readers_see(calm, config) == expected  # each table: the whole old partition or the whole new one

    assert run_night(config, NIGHT, session=calm, engine=LocalLakeEngine(calm, config.lake)).ok  # the next run heals
    assert _readers_see(calm, config) == expected
