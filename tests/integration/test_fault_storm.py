"""A whole night under a storm at the AWS boundary: a large share of CloudWatch, S3, Glue and STS calls throttled,
answered with HTTP 500/503 or timing out. With AWS's own retry policy the night completes with exactly the rows of
a calm night; when a service keeps failing past every retry, the night fails clearly and readers keep what they had."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import EndpointConnectionError
from botocore.retries.standard import ExponentialBackoff

from pipelines.aws import Session
from pipelines.config import parse_config
from pipelines.faults import Kind, classify
from pipelines.nightly import run_night
from pipelines.query.local import LocalLakeEngine
from tests.boundary_faults import Storm
from tests.integration.killpoints import LANDERS
from tests.integration.lakehelpers import (
    ACCOUNTS,
    DT,
    NIGHT,
    make_config,
    new_lake,
    published,
    published_night,
    readers_see,
    seed_invocations,
)

SERVICES = frozenset({"cloudwatch", "s3", "glue", "sts"})


@pytest.fixture(autouse=True)
def _backoff_in_fast_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's own waits between attempts, 20x shorter: its backoff's base (1 s after throttling, 50 ms after
    another error) is a constant of the library, and these tests check what the retries decide, not how long
    they sleep (~30 s of a run otherwise, all of it idle). Every attempt, draw and decision stays botocore's."""
    scales = ExponentialBackoff._DEFAULT_BACKOFF_CONFIG
    monkeypatch.setattr(ExponentialBackoff, "_DEFAULT_BACKOFF_CONFIG", {key: value / 20 for key, value in scales.items()})


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
    config, calm, expected = published_night(stack)

    storm = Storm(share=0.3, services=SERVICES)  # 8 attempts like AWS (adaptive mode would only pace calls, slower)
    session = _storm_session(config, storm, BotoConfig(retries={"mode": "standard", "max_attempts": 8}))
    result = run_night(config, NIGHT, session=session, engine=LocalLakeEngine(session, config.lake))

    assert result.ok, result.summary()
    assert readers_see(calm, config) == expected
    assert {key.split(":")[0] for key in storm.injected} == SERVICES, storm.injected
    # A night makes ~70 calls to these services (~100 attempts under the storm): some 30 faults, at least 20.
    assert sum(storm.injected.values()) >= 20 and storm.injected_share > 0.2, (storm.injected, storm.passed)


def test_past_every_retry_a_night_completes_or_fails_clearly_and_readers_never_see_a_partial_partition(stack: Any) -> None:
    config, calm, expected = published_night(stack)
    storm = Storm(share=0.4, services=SERVICES, seed=2)  # a storm the lock survives and the sources do not (seeded: the
    # draws follow the night's calls; when they change, pick a seed that still gets this far)
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
    # A night makes ~70 calls to these services (~100 attempts under the storm): some 30 faults, at least 20.
    assert sum(storm.injected.values()) >= 20 and storm.injected_share > 0.2, (storm.injected, storm.passed)
    assert readers_see(calm, config) == expected  # each table: the whole old partition or the whole new one

    assert run_night(config, NIGHT, session=calm, engine=LocalLakeEngine(calm, config.lake)).ok  # the next run heals
    assert readers_see(calm, config) == expected


def test_one_region_unreachable_the_others_publish_and_the_next_run_fills_the_gap(stack: Any) -> None:
    regions = ["us-east-1", "eu-west-1"]
    for region in regions:
        seed_invocations(stack.metric_store, ACCOUNTS[0], "ep-a", NIGHT, region=region)
    base = make_config(stack.endpoint_url, statistics=["Sum"], lookback_days=0).model_dump(mode="json")
    config = parse_config({**base, "sources": [{**base["sources"][0], "regions": regions}]})
    calm = new_lake(config)

    def unreachable(request: Any, **_: Any) -> None:
        if "/eu-west-1/" in str(request.headers.get("Authorization", "")):  # the region signed into the request
            raise EndpointConnectionError(endpoint_url=request.url)

    session = _storm_session(
        config, Storm(share=0.0, services=SERVICES), BotoConfig(retries={"mode": "standard", "max_attempts": 2})
    )
    session.register_hook("before-send.*.*", unreachable)
    result = run_night(config, NIGHT, session=session, engine=LocalLakeEngine(session, config.lake), landers=LANDERS)

    summary = result.summary()
    [error] = summary["source_errors"]
    assert not summary["ok"] and f"{ACCOUNTS[0]}/eu-west-1" in error and "Could not connect" in error
    assert any("eu-west-1" in failed for failed in summary["failed"])  # the partition's run record says what is missing
    assert set(published(calm, config, "cloudwatch_metrics", DT)["region"].to_pylist()) == {"us-east-1"}

    assert run_night(config, NIGHT, session=calm, engine=LocalLakeEngine(calm, config.lake), landers=LANDERS).ok
    assert set(published(calm, config, "cloudwatch_metrics", DT)["region"].to_pylist()) == set(regions)
