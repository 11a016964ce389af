"""CloudWatch through the local stack's server with boto3, against CloudWatch's documented behaviour."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from pipelines.localstack import LocalStack

ACCOUNT = "123456789012"  # moto's default account
OTHER_ACCOUNT = "222222222222"
REGION = "us-east-1"
FAIL_FAST = Config(retries={"max_attempts": 1})
DAY = datetime(2026, 11, 20, tzinfo=UTC)
DAY_S = int(DAY.timestamp())
ENDPOINT = {"EndpointName": "fraud-detector-prod", "VariantName": "AllTraffic"}
ONE_HOUR = {"StartTime": DAY, "EndTime": DAY + timedelta(hours=1)}
ONE_DAY = {"StartTime": DAY, "EndTime": DAY + timedelta(days=1)}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(recently_active_days=None) as local:  # seeded days lie in the past: list every series
        yield local


@pytest.fixture()
def cw(stack: LocalStack) -> Any:
    stack.reset()
    return client(stack, "cloudwatch")


def client(stack: LocalStack, service: str, **credentials: str) -> Any:
    keys = credentials or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return boto3.client(service, endpoint_url=stack.endpoint_url, region_name=REGION, config=FAIL_FAST, **keys)


def api_dims(dims: dict[str, str]) -> list[dict[str, str]]:
    return [{"Name": k, "Value": v} for k, v in dims.items()]


def endpoint(i: int) -> dict[str, str]:
    return {**ENDPOINT, "EndpointName": f"ep-{i:03d}"}


def metric_stat(
    query_id: str,
    stat: str,
    period: int = 300,
    namespace: str = "AWS/SageMaker",
    name: str = "ModelLatency",
    dims: dict[str, str] = ENDPOINT,
) -> dict[str, Any]:
    metric = {"Namespace": namespace, "MetricName": name, "Dimensions": api_dims(dims)}
    return {"Id": query_id, "MetricStat": {"Metric": metric, "Period": period, "Stat": stat}}


def all_pages(cw: Any, queries: list[dict[str, Any]], **kwargs: Any) -> list[dict[str, Any]]:
    pages, token = [], None
    while True:
        page = cw.get_metric_data(MetricDataQueries=queries, **ONE_DAY, **kwargs, **({"NextToken": token} if token else {}))
        pages.append(page)
        token = page.get("NextToken")
        if not token:
            return pages


def seed_minutes(stack: LocalStack, n_series: int, account: str = ACCOUNT) -> None:
    """One day of per-minute ModelLatency for endpoints ep-000.., value = minute of day + i (every point recognisable)."""
    ts = DAY_S + np.arange(1440, dtype=np.int64) * 60
    for i in range(n_series):
        values = np.arange(1440, dtype=float) + i
        stack.metric_store.put_series(account, REGION, "AWS/SageMaker", "ModelLatency", endpoint(i), "Microseconds", ts, values)


def test_namespaces_do_not_leak_into_each_other(cw: Any) -> None:
    for namespace, value in (("AWS/SageMaker", 1.0), ("Custom/Shadow", 1000.0)):
        datum = {"MetricName": "ModelLatency", "Dimensions": api_dims(ENDPOINT), "Timestamp": DAY, "Value": value}
        cw.put_metric_data(Namespace=namespace, MetricData=[datum])
    queries = [metric_stat("a", "Sum"), metric_stat("b", "Sum", namespace="Custom/Shadow")]
    results = cw.get_metric_data(MetricDataQueries=queries, **ONE_HOUR)["MetricDataResults"]
    assert [(r["Id"], r["Values"]) for r in results] == [("a", [1.0]), ("b", [1000.0])]


def test_percentiles_and_basic_statistics_equal_a_direct_computation(stack: LocalStack, cw: Any) -> None:
    rng = np.random.default_rng(11)
    ts, values = DAY_S + rng.integers(0, 3600, 20_000), rng.lognormal(10, 0.5, 20_000).round()
    stack.metric_store.put_series(ACCOUNT, REGION, "AWS/SageMaker", "ModelLatency", ENDPOINT, "Microseconds", ts, values)
    stats = ["p50", "p90", "p99", "p99.9", "Average", "Sum", "SampleCount", "Minimum", "Maximum"]
    queries = [metric_stat(f"q{i}", stat) for i, stat in enumerate(stats)]
    results = cw.get_metric_data(MetricDataQueries=queries, **ONE_HOUR, ScanBy="TimestampAscending")["MetricDataResults"]
    got = {r["Id"]: r for r in results}
    for bucket in range(12):
        inside = np.sort(values[(ts >= DAY_S + bucket * 300) & (ts < DAY_S + (bucket + 1) * 300)])
        rank = {p: inside[int(np.ceil(p / 100 * len(inside))) - 1] for p in (50, 90, 99, 99.9)}  # nearest rank
        expected = [
            rank[50],
            rank[90],
            rank[99],
            rank[99.9],
            inside.mean(),
            inside.sum(),
            len(inside),
            inside.min(),
            inside.max(),
        ]
        for i, want in enumerate(expected):
            assert got[f"q{i}"]["Timestamps"][bucket] == DAY + timedelta(seconds=bucket * 300)
            assert got[f"q{i}"]["Values"][bucket] == pytest.approx(want, rel=1e-12), stats[i]


def test_put_metric_data_values_counts_and_statistic_sets_read_back(cw: Any) -> None:
    datum = {"MetricName": "ModelLatency", "Dimensions": api_dims(ENDPOINT), "Unit": "Microseconds"}
    statistic_set = {"Sum": 60.0, "SampleCount": 3, "Minimum": 5.0, "Maximum": 40.0}
    cw.put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {**datum, "Timestamp": DAY, "Values": [10.0, 20.0, 30.0, 40.0], "Counts": [5, 2, 2, 1]},
            {**datum, "Timestamp": DAY + timedelta(seconds=30), "Value": 100.0},
            {**datum, "Timestamp": DAY + timedelta(minutes=5), "StatisticValues": statistic_set},
        ],
    )
    queries = [metric_stat(f"q{i}", s) for i, s in enumerate(["p40", "p50", "p90", "p99", "Sum", "SampleCount", "Maximum"])]
    window = {"StartTime": DAY, "EndTime": DAY + timedelta(minutes=10)}
    results = cw.get_metric_data(MetricDataQueries=queries, **window, ScanBy="TimestampAscending")["MetricDataResults"]
    # bucket 1: 10 x5, 20 x2, 30 x2, 40, 100 (11 samples: 10 covers 5/11 = 45%, 20 covers 64%, 40 covers 91%);
    # bucket 2: only a statistic set, so no percentiles
    assert {r["Id"]: r["Values"] for r in results} == {
        "q0": [10.0],
        "q1": [20.0],
        "q2": [40.0],
        "q3": [100.0],
        "q4": [290.0, 60.0],
        "q5": [11.0, 3.0],
        "q6": [100.0, 40.0],
    }
    statistics = cw.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName="ModelLatency",
        Dimensions=api_dims(ENDPOINT),
        **window,
        Period=300,
        Statistics=["Average"],
        ExtendedStatistics=["p50"],
    )
    points = [(p["Average"], p.get("ExtendedStatistics"), p["Unit"]) for p in statistics["Datapoints"]]
    assert points == [(290.0 / 11, {"p50": 20.0}, "Microseconds"), (20.0, None, "Microseconds")]


def test_unit_filter_and_scan_order(stack: LocalStack, cw: Any) -> None:
    put = stack.metric_store.put_series
    put(
        ACCOUNT,
        REGION,
        "AWS/SageMaker",
        "ModelLatency",
        ENDPOINT,
        "Microseconds",
        np.array([DAY_S, DAY_S + 300]),
        np.array([1.0, 2.0]),
    )
    put(ACCOUNT, REGION, "AWS/SageMaker", "ModelLatency", ENDPOINT, "Milliseconds", np.array([DAY_S + 600]), np.array([3.0]))
    with_unit = metric_stat("u", "Sum")
    with_unit["MetricStat"]["Unit"] = "Microseconds"
    results = cw.get_metric_data(MetricDataQueries=[metric_stat("a", "Sum"), with_unit], **ONE_HOUR)["MetricDataResults"]
    by_id = {r["Id"]: r for r in results}
    assert by_id["a"]["Values"] == [3.0, 2.0, 1.0]  # TimestampDescending is the default
    assert by_id["u"]["Values"] == [2.0, 1.0]
    assert by_id["a"]["Label"] == "ModelLatency"


@pytest.mark.parametrize("scan_by", ["TimestampDescending", "TimestampAscending"])
def test_max_datapoints_pages_return_every_point_once(stack: LocalStack, cw: Any, scan_by: str) -> None:
    seed_minutes(stack, 3)
    queries = [metric_stat(f"q{i}", "Maximum", period=60, dims=endpoint(i)) for i in range(3)]
    pages = all_pages(cw, queries, MaxDatapoints=1000, ScanBy=scan_by)
    points: dict[str, list[tuple[datetime, float]]] = {}
    for page in pages:
        assert sum(len(r["Values"]) for r in page["MetricDataResults"]) <= 1000
        for result in page["MetricDataResults"]:
            points.setdefault(result["Id"], []).extend(zip(result["Timestamps"], result["Values"], strict=True))
    # 3 x 1,440 points in pages of 1,000; the result cut by a page is PartialData
    assert [[(r["Id"], r["StatusCode"]) for r in page["MetricDataResults"]] for page in pages] == [
        [("q0", "PartialData")],
        [("q0", "Complete"), ("q1", "PartialData")],
        [("q1", "Complete"), ("q2", "PartialData")],
        [("q2", "PartialData")],
        [("q2", "Complete")],
    ]
    for i in range(3):
        expected = [(DAY + timedelta(minutes=m), float(m + i)) for m in range(1440)]
        assert points[f"q{i}"] == (expected if scan_by == "TimestampAscending" else expected[::-1])


def test_more_than_100800_points_take_two_pages(stack: LocalStack, cw: Any) -> None:
    seed_minutes(stack, 71)  # 71 x 1,440 = 102,240 points
    queries = [metric_stat(f"q{i}", "Average", period=60, dims=endpoint(i)) for i in range(71)]
    first, second = all_pages(cw, queries)
    assert sum(len(r["Values"]) for r in first["MetricDataResults"]) == 100_800
    assert [r["StatusCode"] for r in first["MetricDataResults"]] == ["Complete"] * 70
    assert [(r["Id"], r["StatusCode"], len(r["Values"])) for r in second["MetricDataResults"]] == [("q70", "Complete", 1440)]


def test_a_next_token_only_continues_the_request_it_came_from(stack: LocalStack, cw: Any) -> None:
    seed_minutes(stack, 1)
    query = metric_stat("q0", "Sum", period=60, dims=endpoint(0))
    token = cw.get_metric_data(MetricDataQueries=[query], **ONE_DAY, MaxDatapoints=10)["NextToken"]
    with pytest.raises(ClientError) as error:
        cw.get_metric_data(MetricDataQueries=[query], **ONE_HOUR, NextToken=token)
    assert error.value.response["Error"]["Code"] == "InvalidNextToken"


def test_more_than_500_queries_are_refused_like_aws(cw: Any) -> None:
    queries = [metric_stat(f"q{i}", "Sum") for i in range(501)]
    with pytest.raises(ClientError) as error:
        cw.get_metric_data(MetricDataQueries=queries, **ONE_HOUR)
    assert error.value.response["Error"]["Code"] == "ValidationError"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert len(cw.get_metric_data(MetricDataQueries=queries[:500], **ONE_HOUR)["MetricDataResults"]) == 500


def test_list_metrics_pages_by_500_one_entry_per_series(stack: LocalStack, cw: Any) -> None:
    ts = DAY_S + np.arange(50, dtype=np.int64) * 60  # 50 datapoints per series, two dimensions
    for i in range(1001):
        name = "Invocations" if i % 2 else "ModelLatency"
        stack.metric_store.put_series(ACCOUNT, REGION, "AWS/SageMaker", name, endpoint(i // 2), None, ts, np.ones(50))
    pages = list(cw.get_paginator("list_metrics").paginate(Namespace="AWS/SageMaker"))
    assert [len(p["Metrics"]) for p in pages] == [500, 500, 1]
    listed = [(m["MetricName"], tuple((d["Name"], d["Value"]) for d in m["Dimensions"])) for p in pages for m in p["Metrics"]]
    assert len(set(listed)) == len(listed) == 1001
    one_endpoint = cw.list_metrics(Namespace="AWS/SageMaker", Dimensions=[{"Name": "EndpointName", "Value": "ep-007"}])["Metrics"]
    assert sorted(m["MetricName"] for m in one_endpoint) == ["Invocations", "ModelLatency"]
    by_name = cw.get_paginator("list_metrics").paginate(MetricName="Invocations", Dimensions=[{"Name": "VariantName"}])
    assert sum(len(p["Metrics"]) for p in by_name) == 500
    assert cw.list_metrics(Dimensions=[{"Name": "InstanceId"}])["Metrics"] == []


def test_list_metrics_shows_only_series_active_in_the_last_14_days_of_the_stack_clock(stack: LocalStack, cw: Any) -> None:
    for name, day in (("Old", DAY - timedelta(days=20)), ("Recent", DAY - timedelta(days=2))):
        stack.metric_store.put_series(ACCOUNT, REGION, "App", name, {}, None, np.array([int(day.timestamp())]), np.array([1.0]))
    assert sorted(m["MetricName"] for m in cw.list_metrics(Namespace="App")["Metrics"]) == ["Old", "Recent"]  # rule disabled
    with LocalStack(now=DAY) as clocked:  # same process, same data; its own clock and the 14-day rule
        listed = client(clocked, "cloudwatch").list_metrics(Namespace="App")["Metrics"]
    assert [m["MetricName"] for m in listed] == ["Recent"]


def test_assumed_role_sessions_see_only_their_account(stack: LocalStack, cw: Any) -> None:
    role = f"arn:aws:iam::{OTHER_ACCOUNT}:role/MlLakeReader"
    creds = client(stack, "sts").assume_role(RoleArn=role, RoleSessionName="tests")["Credentials"]
    keys = {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"]}
    other = client(stack, "cloudwatch", **keys, aws_session_token=creds["SessionToken"])
    datum = {"MetricName": "ModelLatency", "Dimensions": api_dims(ENDPOINT), "Timestamp": DAY, "Value": 7.0}
    other.put_metric_data(Namespace="AWS/SageMaker", MetricData=[datum])
    seed_minutes(stack, 1, account=OTHER_ACCOUNT)
    assert other.get_metric_data(MetricDataQueries=[metric_stat("q", "Sum")], **ONE_HOUR)["MetricDataResults"][0]["Values"] == [
        7.0
    ]
    assert cw.get_metric_data(MetricDataQueries=[metric_stat("q", "Sum")], **ONE_HOUR)["MetricDataResults"][0]["Values"] == []
    assert len(other.list_metrics()["Metrics"]) == 2 and cw.list_metrics()["Metrics"] == []


def test_s3_bucket_metrics_come_from_moto_once_per_bucket(stack: LocalStack, cw: Any) -> None:
    client(stack, "s3").create_bucket(Bucket="acme-ml-lake")
    listed = cw.list_metrics(Namespace="AWS/S3")["Metrics"]
    assert sorted(m["MetricName"] for m in listed) == ["BucketSizeBytes", "NumberOfObjects"]
    today = stack.clock.now().replace(hour=0, minute=0, second=0, microsecond=0)  # moto computes them "today"
    query = metric_stat(
        "n", "Average", 86_400, "AWS/S3", "NumberOfObjects", {"BucketName": "acme-ml-lake", "StorageType": "AllStorageTypes"}
    )
    result = cw.get_metric_data(MetricDataQueries=[query], StartTime=today, EndTime=today + timedelta(days=1))[
        "MetricDataResults"
    ][0]
    assert result["Values"] == [0.0]


def test_query_protocol_clients_get_the_same_data(stack: LocalStack, cw: Any) -> None:
    seed_minutes(stack, 1)
    member = "MetricDataQueries.member.1"
    form = {"Action": "GetMetricData", "Version": "2010-08-01", "ScanBy": "TimestampAscending"}
    form |= {"StartTime": "2026-11-20T00:00:00Z", "EndTime": "2026-11-20T00:03:00Z", f"{member}.Id": "q"}
    form |= {f"{member}.MetricStat.Period": "60", f"{member}.MetricStat.Stat": "Maximum"}
    form |= {f"{member}.MetricStat.Metric.Namespace": "AWS/SageMaker", f"{member}.MetricStat.Metric.MetricName": "ModelLatency"}
    for n, (name, value) in enumerate(endpoint(0).items(), start=1):
        form |= {
            f"{member}.MetricStat.Metric.Dimensions.member.{n}.Name": name,
            f"{member}.MetricStat.Metric.Dimensions.member.{n}.Value": value,
        }
    auth = f"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261120/{REGION}/monitoring/aws4_request, SignedHeaders=host, Signature=0"
    headers = {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"}
    request = urllib.request.Request(stack.endpoint_url, data=urllib.parse.urlencode(form).encode(), headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        xml = response.read().decode()
    assert "<Values><member>0.0</member><member>1.0</member><member>2.0</member></Values>" in xml


_INSTALL_CYCLE = """
from moto.cloudwatch.responses import CloudWatchResponse
from pipelines.localstack import cloudwatch_moto
from pipelines.localstack.server import LocalStack

original = CloudWatchResponse.__dict__["get_metric_data"]
first, second = LocalStack(), LocalStack()
first.start(); second.start()
patched = CloudWatchResponse.__dict__["get_metric_data"]
assert cloudwatch_moto.PATCH.installed and patched is not original
cloudwatch_moto.PATCH.acquire(-1)  # another user: idempotent
cloudwatch_moto.PATCH.release(-1)
first.stop()
assert cloudwatch_moto.PATCH.installed and CloudWatchResponse.__dict__["get_metric_data"] is patched
second.stop()
assert not cloudwatch_moto.PATCH.installed
assert CloudWatchResponse.__dict__["get_metric_data"] is original
assert "parse_parameters" not in CloudWatchResponse.__dict__  # inherited from moto's BaseResponse again
print("ok")
"""


def test_fixes_are_installed_while_a_stack_runs_and_removed_after_the_last() -> None:
    # In a fresh process: this one has other stacks running for other tests.
    done = subprocess.run([sys.executable, "-c", _INSTALL_CYCLE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_serve_prints_the_endpoint_and_stops_on_sigterm() -> None:
    code = "from pipelines.localstack import serve; serve()"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    try:
        line = process.stdout.readline().strip() if process.stdout else ""
        assert line.startswith("endpoint: http://127.0.0.1:")
        reset = urllib.request.Request(f"{line.removeprefix('endpoint: ')}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(reset, timeout=30) as response:
            assert response.status == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
