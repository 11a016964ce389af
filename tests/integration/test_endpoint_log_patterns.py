"""Error classes per endpoint and hour through boto3 against the local stack: the query text that runs is the one AWS gets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pipelines.audit.gate import audit_and_switch
from pipelines.aws import Session
from pipelines.config import DEFAULT_ERROR_PATTERNS, LogPatternsConfig
from pipelines.demo.fleet import build_fleet
from pipelines.demo.fleet_stories import STORM_ENDPOINT, WEEKLY_504_STORM
from pipelines.demo.seed_endpoint_logs import seed_endpoint_logs
from pipelines.lake.catalog import ensure_lake
from pipelines.sources.endpoint_log_patterns.extract import (
    LogQueryFailed,
    LogQueryRefused,
    LogQueryTimeout,
    iter_endpoint_log_groups,
    iter_log_pattern_counts,
    log_pattern_query,
)
from pipelines.sources.endpoint_log_patterns.landing import land_endpoint_log_patterns
from pipelines.windows import night_window
from tests.integration.lakehelpers import ACCOUNTS, DT, NIGHT, make_config, new_lake, published

PREFIX = "/aws/sagemaker/Endpoints/"
REGION = "us-east-1"
MIDNIGHT = datetime.combine(NIGHT, datetime.min.time(), tzinfo=UTC)


def at(hours: float = 0, minutes: float = 0, seconds: float = 0, ms: int = 0) -> int:
    return int((MIDNIGHT + timedelta(hours=hours, minutes=minutes, seconds=seconds)).timestamp() * 1000) + ms


def source(lake: Session, account: str = ACCOUNTS[0]) -> Session:
    return lake.assume(f"arn:aws:iam::{account}:role/MlLakeReader", REGION)


def put_events(session: Session, group: str, stream: str, events: list[tuple[int, str]]) -> None:
    logs = session.client("logs")
    if not logs.describe_log_groups(logGroupNamePrefix=group).get("logGroups"):
        logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    response = logs.put_log_events(
        logGroupName=group, logStreamName=stream, logEvents=[{"timestamp": t, "message": m} for t, m in sorted(events)]
    )
    assert not response.get("rejectedLogEventsInfo"), response


def seed_night(session: Session) -> None:
    """Known lines in and around the night, in two endpoints' groups and one that is not an endpoint's."""
    put_events(
        session,
        f"{PREFIX}ep-a",
        "AllTraffic/i-1",
        [
            (at(ms=-1), "before the night: HTTP 504"),  # 23:59:59.999 the day before
            (at(2, 5), "HTTP 504 Gateway Timeout"),  # http_5xx and timeout
            (at(2, 10), "upstream timed out (110: Connection timed out)"),
            (at(2, 40), 'POST /invocations HTTP/1.1" 504 0'),
            (at(2, 41), 'GET /ping HTTP/1.1" 200 0'),
            (at(3), "torch.OutOfMemoryError: CUDA out of memory"),
            (at(23, 59, 59, ms=999), "Traceback (most recent call last)"),
            (at(24), "next night: HTTP 503"),
        ],
    )
    put_events(session, f"{PREFIX}ep-a", "AllTraffic/i-2", [(at(2, 1), "HTTP 502 from upstream")])
    put_events(session, f"{PREFIX}ep-b", "AllTraffic/i-9", [(at(10, m), f"ModelError: bad input {m}") for m in (15, 16, 59)])
    put_events(session, "/aws/lambda/not-an-endpoint", "s", [(at(4), "HTTP 500")])


EXPECTED = {
    ("ep-a", 2, "http_5xx"): (3, "HTTP 502 from upstream"),
    ("ep-a", 2, "timeout"): (2, "HTTP 504 Gateway Timeout"),
    ("ep-a", 3, "out_of_memory"): (1, "torch.OutOfMemoryError: CUDA out of memory"),
    ("ep-a", 23, "model_error"): (1, "Traceback (most recent call last)"),
    ("ep-b", 10, "model_error"): (3, "ModelError: bad input 15"),
}


def by_key(rows: list[dict[str, Any]]) -> dict[tuple[str, int, str], tuple[int, str]]:
    out = {}
    for row in rows:
        assert row["hour"].minute == 0 and row["hour"].date() == NIGHT
        assert row["log_group"] == f"{PREFIX}{row['endpoint_name']}"
        out[(row["endpoint_name"], row["hour"].hour, row["error_class"])] = (row["count"], row["sample_message"])
    return out


def capture(session: Session, operation: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    session.register_hook(f"before-parameter-build.cloudwatch-logs.{operation}", lambda params, **_: seen.append(dict(params)))
    return seen


def test_exact_counts_per_hour_and_class_with_the_query_that_runs(stack: Any) -> None:
    config = make_config(stack.endpoint_url)
    lake = new_lake(config)
    seed_night(source(lake))
    session = source(lake)
    started = capture(session, "StartQuery")
    logs = session.client("logs")
    groups = list(iter_endpoint_log_groups(logs))
    assert groups == [f"{PREFIX}ep-a", f"{PREFIX}ep-b"]
    rows = list(iter_log_pattern_counts(logs, groups, night_window(NIGHT, 0), DEFAULT_ERROR_PATTERNS, timeout=30))
    assert by_key(rows) == EXPECTED
    assert [p["queryString"] for p in started] == [log_pattern_query(p) for p in DEFAULT_ERROR_PATTERNS.values()]
    assert all(p["logGroupNames"] == groups and "logGroupIdentifiers" not in p for p in started)
    assert {(p["startTime"], p["endTime"]) for p in started} == {(at() // 1000, at(24) // 1000)}


def test_lander_stages_one_file_per_source_and_the_audit_publishes(stack: Any) -> None:
    config = make_config(stack.endpoint_url)
    lake = new_lake(config)
    ensure_lake(lake, config.lake)
    seed_night(source(lake))
    landing = land_endpoint_log_patterns(lake, config, NIGHT, "run-1")
    assert landing.source == "endpoint_log_patterns" and landing.errors == []
    [staged] = landing.staged
    assert staged.dt == DT and sorted(uri.rsplit("/", 1)[1] for uri in staged.files) == [
        f"part-{a}-{REGION}.parquet" for a in ACCOUNTS
    ]
    outcome = audit_and_switch(lake, config, staged, DT)
    assert outcome.switched is not None, outcome.report.summary()
    rows = published(lake, config, "endpoint_log_patterns", DT).to_pylist()
    assert {r["account_id"] for r in rows} == {ACCOUNTS[0]} and {r["region"] for r in rows} == {REGION}
    assert by_key(rows) == EXPECTED


def _deny_role(account: str) -> Any:
    def handler(params: dict[str, Any], **_: Any) -> None:
        if f"::{account}:" in params.get("RoleArn", ""):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized to assume"}}, "AssumeRole")

    return handler


def test_a_failing_account_is_an_error_and_the_others_land(stack: Any) -> None:
    config = make_config(stack.endpoint_url)
    lake = new_lake(config)
    ensure_lake(lake, config.lake)
    seed_night(source(lake))
    lake.register_hook("before-parameter-build.sts.AssumeRole", _deny_role(ACCOUNTS[1]))
    landing = land_endpoint_log_patterns(lake, config, NIGHT, "run-2")
    assert len(landing.errors) == 1 and ACCOUNTS[1] in landing.errors[0] and "AccessDenied" in landing.errors[0]
    assert [uri.rsplit("/", 1)[1] for uri in landing.staged[0].files] == [f"part-{ACCOUNTS[0]}-{REGION}.parquet"]
    assert landing.counts == {"accounts": 2, "accounts_failed": 1, "rows": len(EXPECTED)}


def test_disabled_source_queries_nothing(stack: Any) -> None:
    config = make_config(stack.endpoint_url).model_copy(update={"log_patterns": LogPatternsConfig(enabled=False)})
    lake = new_lake(config)
    landing = land_endpoint_log_patterns(lake, config, NIGHT, "run-3")
    assert landing.staged == [] and landing.errors == []
    assert not any(key.startswith("CloudWatch Logs.") for key in lake.calls.snapshot())


def test_a_query_that_never_completes_hits_the_deadline_and_is_stopped(stack: Any) -> None:
    config = make_config(stack.endpoint_url)
    lake = new_lake(config)
    seed_night(source(lake))
    session = source(lake)
    stopped = capture(session, "StopQuery")

    def never_done(parsed: dict[str, Any], **_: Any) -> None:  # fault injection at the boto boundary
        parsed["status"], parsed["results"] = "Running", []

    session.register_hook("after-call.cloudwatch-logs.GetQueryResults", never_done)
    polls = capture(session, "GetQueryResults")
    now, sleeps = [100.0], []

    def sleep(seconds: float) -> None:  # a clock of our own: the test waits for nothing
        sleeps.append(seconds)
        now[0] += seconds

    with pytest.raises(LogQueryTimeout, match=r"did not complete within 0\.8 s; stopped them"):
        list(
            iter_log_pattern_counts(
                session.client("logs"),
                [f"{PREFIX}ep-a"],
                night_window(NIGHT, 0),
                DEFAULT_ERROR_PATTERNS,
                timeout=0.8,
                poll_seconds=0.2,
                clock=lambda: now[0],
                sleep=sleep,
            )
        )
    assert sleeps == pytest.approx([0.2, 0.2, 0.2, 0.2])  # polled every 0.2 s until the 0.8 s deadline, no longer
    assert len(polls) == 5 * len(DEFAULT_ERROR_PATTERNS)  # at 0, 0.2, 0.4, 0.6 and 0.8 s
    assert len(stopped) == len(DEFAULT_ERROR_PATTERNS)


@pytest.mark.parametrize("status", ["Failed", "Cancelled", "Timeout"])
def test_a_broken_query_status_is_an_error(stack: Any, status: str) -> None:
    config = make_config(stack.endpoint_url)
    session = source(new_lake(config))
    seed_night(session)
    session.register_hook("after-call.cloudwatch-logs.GetQueryResults", lambda parsed, **_: parsed.update(status=status))
    with pytest.raises(LogQueryFailed, match=f"ended {status}"):
        list(iter_log_pattern_counts(session.client("logs"), [f"{PREFIX}ep-a"], night_window(NIGHT, 0), {"x": "504"}, timeout=5))


def test_a_refused_query_is_fatal_not_retriable(stack: Any) -> None:
    session = source(new_lake(make_config(stack.endpoint_url)))
    with pytest.raises(LogQueryRefused, match="ResourceNotFoundException"):
        list(
            iter_log_pattern_counts(
                session.client("logs"), [f"{PREFIX}deleted-meanwhile"], night_window(NIGHT, 0), {"x": "504"}, 5
            )
        )


def test_log_groups_are_listed_page_by_page(stack: Any) -> None:
    session = source(new_lake(make_config(stack.endpoint_url)))
    logs = session.client("logs")
    for name in ("ep-1", "ep-2", "ep-3", "ep-4", "ep-5"):
        logs.create_log_group(logGroupName=f"{PREFIX}{name}")
    logs.create_log_group(logGroupName="/aws/sagemaker/TrainingJobs")
    before = session.calls.snapshot().get("CloudWatch Logs.DescribeLogGroups", 0)
    assert list(iter_endpoint_log_groups(logs, page_size=2)) == [f"{PREFIX}ep-{i}" for i in range(1, 6)]
    assert session.calls.snapshot()["CloudWatch Logs.DescribeLogGroups"] - before == 3


def test_more_than_fifty_log_groups_are_queried_in_batches(stack: Any) -> None:
    session = source(new_lake(make_config(stack.endpoint_url)))
    started = capture(session, "StartQuery")
    for i in range(53):
        put_events(session, f"{PREFIX}ep-{i:02d}", "AllTraffic/i-1", [(at(5, i), f"HTTP 500 #{i}")])
    logs = session.client("logs")
    rows = list(
        iter_log_pattern_counts(
            logs, list(iter_endpoint_log_groups(logs)), night_window(NIGHT, 0), {"http_5xx": r"\b5\d\d\b"}, 30
        )
    )
    assert sorted(len(p["logGroupNames"]) for p in started) == [3, 50]
    assert len(rows) == 53 and {r["count"] for r in rows} == {1} and {r["hour"].hour for r in rows} == {5}


def test_demo_logs_show_the_tuesday_two_am_504s(stack: Any) -> None:
    """The demo's recurring story is what the extraction finds: 504s and timeouts at 02:00 on Tuesdays only."""
    lake = new_lake(make_config(stack.endpoint_url))
    fleet = build_fleet(seed=7, start=NIGHT - timedelta(days=8), days=8)
    storm_days = {s.start.date() for s in fleet.stories if s.kind == WEEKLY_504_STORM}
    assert [d.weekday() for d in storm_days] == [1]
    seeded = seed_endpoint_logs(
        lambda account, region: lake.assume(f"arn:aws:iam::{account}:role/MlLakeReader", region), fleet, now=stack.clock.now()
    )
    assert seeded.log_groups == len(fleet.endpoints) and seeded.too_old == seeded.rejected == 0
    storm = next(e for e in fleet.endpoints if e.name == STORM_ENDPOINT)
    logs = lake.assume(f"arn:aws:iam::{storm.account_id}:role/MlLakeReader", storm.region).client(
        "logs", region_name=storm.region
    )
    groups = list(iter_endpoint_log_groups(logs))
    for day in fleet.dates:
        rows = [
            r
            for r in iter_log_pattern_counts(logs, groups, night_window(day, 0), DEFAULT_ERROR_PATTERNS, 30)
            if r["endpoint_name"] == STORM_ENDPOINT and r["hour"].hour == 2
        ]
        classes = {r["error_class"]: r["count"] for r in rows}
        if day in storm_days:
            assert classes.get("http_5xx", 0) >= 18 and classes.get("timeout", 0) >= 1, (day, classes)
        else:
            assert classes.get("http_5xx", 0) <= 2 and "timeout" not in classes, (day, classes)
