"""Discovery and fetching against the local stack, below the night: pages, namespaces, statuses."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pytest
from botocore.exceptions import ClientError

from pipelines.aws import lake_session
from pipelines.config import CloudWatchConfig
from pipelines.errors import FatalError, RetriableError
from pipelines.sources.cloudwatch_metrics.decode import install_fast_decoder
from pipelines.sources.cloudwatch_metrics.discovery import iter_metric_series
from pipelines.sources.cloudwatch_metrics.fetch import IncompleteMetricData, iter_metric_data, max_pages
from pipelines.sources.cloudwatch_metrics.plan import minimum_calls, plan_queries
from pipelines.sources.cloudwatch_metrics.table import cloudwatch_metrics_table
from pipelines.windows import night_window
from tests.integration.lakehelpers import ACCOUNTS, NIGHT, minutes, seed_invocations


def _cloudwatch(stack: Any) -> Any:
    session = lake_session("us-east-1", stack.endpoint_url)
    source = session.assume(f"arn:aws:iam::{ACCOUNTS[0]}:role/MlLakeReader", "us-east-1")
    client = source.client("cloudwatch")
    install_fast_decoder(client)
    return source, client


def test_discovery_follows_list_metrics_pages_and_keeps_namespaces_apart(stack: Any) -> None:
    for i in range(501):  # ListMetrics pages hold 500 series
        seed_invocations(stack.metric_store, ACCOUNTS[0], f"ep-{i:03d}", NIGHT)
    ts = minutes(NIGHT)
    stack.metric_store.put_series(
        ACCOUNTS[0],
        "us-east-1",
        "Custom/Team",
        "Invocations",
        {"EndpointName": "ep-000", "VariantName": "AllTraffic"},
        "Count",
        ts,
        np.full(len(ts), 99.0),
    )
    seed_invocations(stack.metric_store, ACCOUNTS[1], "other-account", NIGHT)
    session, client = _cloudwatch(stack)

    series = list(iter_metric_series(client, ACCOUNTS[0], "us-east-1", ["AWS/SageMaker"]))
    assert len(series) == 501 and len(set(series)) == 501
    assert session.calls.snapshot()["CloudWatch.ListMetrics"] == 2
    assert all(s.namespace == "AWS/SageMaker" and s.account_id == ACCOUNTS[0] for s in series)
    assert "other-account" not in {s.endpoint_name for s in series}

    # The same metric name and dimensions in another namespace must not leak into the values.
    both = list(iter_metric_series(client, ACCOUNTS[0], "us-east-1", ["AWS/SageMaker", "Custom/Team"]))
    picked = [s for s in both if s.endpoint_name == "ep-000"]
    queries = plan_queries(picked, CloudWatchConfig(statistics=["Maximum"], period_seconds=3600))
    table = cloudwatch_metrics_table(iter_metric_data(client, queries, night_window(NIGHT, 0)), {q.id: q for q in queries})
    maxima = {
        ns: set(table.filter(pc.equal(table["namespace"], ns))["value"].to_pylist()) for ns in ("AWS/SageMaker", "Custom/Team")
    }
    assert maxima == {"AWS/SageMaker": {10.0}, "Custom/Team": {99.0}}


def test_missing_periods_stay_missing(stack: Any) -> None:
    ts = minutes(NIGHT)[:60]  # only the first hour has data
    stack.metric_store.put_series(
        ACCOUNTS[0],
        "us-east-1",
        "AWS/SageMaker",
        "ModelLatency",
        {"EndpointName": "ep-a", "VariantName": "AllTraffic"},
        "Microseconds",
        ts,
        np.linspace(1000, 60000, 60),
    )
    _, client = _cloudwatch(stack)
    series = list(iter_metric_series(client, ACCOUNTS[0], "us-east-1", ["AWS/SageMaker"]))
    queries = plan_queries(series, CloudWatchConfig(period_seconds=3600))
    table = cloudwatch_metrics_table(iter_metric_data(client, queries, night_window(NIGHT, 0)), {q.id: q for q in queries})
    assert table.num_rows == len(queries)  # one period with data per statistic; 23 empty hours, no zeros
    assert table["value"].null_count == 0
    assert set(table["ts"].to_pylist()) == {table["ts"][0].as_py()}
    p99 = table.filter(pc.equal(table["stat"], "p99"))["value"][0].as_py()
    assert p99 == np.linspace(1000, 60000, 60)[int(np.ceil(0.99 * 60)) - 1]  # nearest rank
    assert set(table["unit"].to_pylist()) == {"Microseconds"}
    assert table["ts"][0].as_py().date() == NIGHT


def test_the_cost_counts_every_metric_requested_in_each_call(stack: Any) -> None:
    """GetMetricData is billed per metric requested: the tally must see each call's queries (not the wire request)."""
    for endpoint in ("ep-a", "ep-b", "ep-c"):
        seed_invocations(stack.metric_store, ACCOUNTS[0], endpoint, NIGHT)
    source, client = _cloudwatch(stack)
    series = list(iter_metric_series(client, ACCOUNTS[0], "us-east-1", ["AWS/SageMaker"]))
    queries = plan_queries(series, CloudWatchConfig(period_seconds=60, statistics=["Sum", "Maximum"], percentiles=[]))
    pages = list(iter_metric_data(client, queries, night_window(NIGHT, 0)))
    calls = source.calls.snapshot()["CloudWatch.GetMetricData"]
    assert len(queries) == 6 and calls == len(pages) >= 1
    assert source.calls.metrics_requested == 6 * calls
    listed = source.calls.snapshot()["CloudWatch.ListMetrics"]
    assert source.calls.cloudwatch_cost_usd() == pytest.approx(6 * calls * 0.01 / 1000 + listed * 0.01 / 1000)


def test_paging_is_bounded_and_access_denied_is_not_called_retriable(stack: Any) -> None:
    """Fault injection at the AWS boundary: CloudWatch answering every page with the same NextToken must end in an
    error, not a loop; AccessDenied is fatal for the source (retrying will not help), throttling retriable."""
    seed_invocations(stack.metric_store, ACCOUNTS[0], "ep-a", NIGHT)
    session, client = _cloudwatch(stack)
    series = list(iter_metric_series(client, ACCOUNTS[0], "us-east-1", ["AWS/SageMaker"]))
    queries = plan_queries(series, CloudWatchConfig(statistics=["Sum"], period_seconds=3600))
    window = night_window(NIGHT, 0)
    assert max_pages(queries, window) == 2 * 1 + 2  # 24 points a query: one page, doubled for partial results, + 2

    def endless(parsed: dict[str, Any], **_: Any) -> None:
        if "DecodedPage" in parsed:  # the fast decoder's page, when it took the body
            parsed["DecodedPage"] = dataclasses.replace(parsed["DecodedPage"], next_token="again")
        parsed["NextToken"] = "again"

    def forget(params: dict[str, Any], **_: Any) -> None:
        params.pop("NextToken", None)  # the emulator sees a first request each time and answers it again

    client.meta.events.register("before-parameter-build.cloudwatch.GetMetricData", forget)
    client.meta.events.register("after-call.cloudwatch.GetMetricData", endless)
    with pytest.raises(IncompleteMetricData, match="same NextToken twice"):
        list(iter_metric_data(client, queries, window))
    client.meta.events.unregister("after-call.cloudwatch.GetMetricData", endless)
    tokens = iter(range(1_000))

    def fresh(parsed: dict[str, Any], **_: Any) -> None:
        token = f"t{next(tokens)}"  # a new token every page, forever
        if "DecodedPage" in parsed:
            parsed["DecodedPage"] = dataclasses.replace(parsed["DecodedPage"], next_token=token)
        parsed["NextToken"] = token

    client.meta.events.register("after-call.cloudwatch.GetMetricData", fresh)
    calls_before = session.calls.snapshot().get("CloudWatch.GetMetricData", 0)
    with pytest.raises(IncompleteMetricData, match="kept paging past 4 pages"):
        list(iter_metric_data(client, queries, window))
    assert session.calls.snapshot()["CloudWatch.GetMetricData"] - calls_before == 4
    client.meta.events.unregister("after-call.cloudwatch.GetMetricData", fresh)
    client.meta.events.unregister("before-parameter-build.cloudwatch.GetMetricData", forget)

    def refuse(code: str) -> Any:
        def handler(**_: Any) -> None:
            raise ClientError({"Error": {"Code": code, "Message": "injected"}}, "GetMetricData")

        return handler

    for code, kind in (("AccessDenied", FatalError), ("Throttling", RetriableError)):
        handler = refuse(code)
        client.meta.events.register("before-call.cloudwatch.GetMetricData", handler)
        with pytest.raises(kind, match=code) as raised:
            list(iter_metric_data(client, queries, window))
        assert not (kind is FatalError and isinstance(raised.value, RetriableError))
        client.meta.events.unregister("before-call.cloudwatch.GetMetricData", handler)


@pytest.mark.parametrize(
    ("lookback", "days_with_data", "billed"),
    [(0, 1, 490 * 7 + 510), (1, 1, 490 * 7 + 510)],
    ids=["every point there", "a lookback day without data"],
)
def test_calls_are_the_minimum_and_queries_billed_on_few_pages(
    stack: Any, lookback: int, days_with_data: int, billed: int
) -> None:
    """1,000 one-minute series: the first call asks the most queries that fill whole pages (490), and its pages say
    how many points a query holds (1,440, also where the window has an empty lookback day: sized for the window,
    calls of 35 would each fill half a page); later calls fill one page each, 70 queries. Calls are the minimum
    either way, and the night bills 3,940 metrics where batches of 490 throughout billed 6,880."""
    ts = minutes(NIGHT)
    for i in range(1000):
        stack.metric_store.put_series(
            ACCOUNTS[0], "us-east-1", "AWS/SageMaker", "Invocations", {"EndpointName": f"ep-{i:04d}"}, "None", ts, np.ones(1440)
        )
    source, client = _cloudwatch(stack)
    series = list(iter_metric_series(client, ACCOUNTS[0], "us-east-1", ["AWS/SageMaker"]))
    queries = plan_queries(series, CloudWatchConfig(period_seconds=60, statistics=["Sum"], percentiles=[]))
    pages = list(iter_metric_data(client, queries, night_window(NIGHT, lookback)))
    points = sum(page.num_points for page in pages)
    calls = source.calls.snapshot()["CloudWatch.GetMetricData"]
    assert len(queries) == 1000 and points == 1000 * 1440 * days_with_data
    assert calls == minimum_calls(len(queries), points)
    assert source.calls.metrics_requested == billed
