"""CloudWatch in Smithy RPC v2 CBOR (the pipeline's clients) answers as CloudWatch in JSON does, through the stack."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import cbor2
import numpy as np
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from pipelines.aws import CBOR, Session
from pipelines.localstack import LocalStack
from pipelines.localstack.cloudwatch_moto import _metric_data_cbor
from pipelines.localstack.cloudwatch_query import MetricDataPage, MetricResult
from pipelines.sources.cloudwatch_metrics.decode import decode_get_metric_data, decoded_page, install_fast_decoder

REGION = "us-east-1"
DAY = datetime(2026, 11, 20, tzinfo=UTC)
DIMS = [{"Name": "EndpointName", "Value": "fraud"}, {"Name": "VariantName", "Value": "AllTraffic"}]
WINDOW = {"StartTime": DAY, "EndTime": DAY + timedelta(hours=1)}
FAIL_FAST = Config(retries={"max_attempts": 1})


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(now=DAY + timedelta(hours=2), recently_active_days=None) as local:
        yield local


@pytest.fixture()
def clients(stack: LocalStack) -> tuple[Any, Any]:
    """The same account's CloudWatch in CBOR (a pipeline session's client) and in JSON (boto3's own choice)."""
    stack.reset()
    keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}
    cbor = Session(endpoint_url=stack.endpoint_url, retries=FAIL_FAST, **keys).client("cloudwatch")
    json = boto3.client("cloudwatch", endpoint_url=stack.endpoint_url, config=FAIL_FAST, **keys)
    assert (cbor.meta.service_model.resolved_protocol, json.meta.service_model.resolved_protocol) == (CBOR, "json")
    return cbor, json


def answer(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def test_only_cloudwatch_changes_protocol(stack: LocalStack) -> None:
    session = Session(endpoint_url=stack.endpoint_url, region_name=REGION)
    assert session.client("cloudwatch").meta.service_model.resolved_protocol == CBOR
    assert session.client("s3").meta.service_model.resolved_protocol == "rest-xml"
    assert session.client("logs").meta.service_model.resolved_protocol == "json"


def test_every_operation_the_pipeline_uses_answers_alike(clients: tuple[Any, Any]) -> None:
    cbor, json = clients
    data = [
        {
            "MetricName": name,
            "Dimensions": DIMS,
            "Timestamp": DAY + timedelta(minutes=i),
            "Value": float(i) * scale,
            "Unit": "Count",
        }
        for name, scale in (("Invocations", 1.0), ("ModelLatency", 0.5))
        for i in range(30)
    ]
    cbor.put_metric_data(Namespace="AWS/SageMaker", MetricData=data)  # written in CBOR, read in both
    assert answer(cbor.list_metrics(Namespace="AWS/SageMaker")) == answer(json.list_metrics(Namespace="AWS/SageMaker"))
    assert len(cbor.list_metrics()["Metrics"]) == 2
    queries = [
        {
            "Id": f"q{i}",
            "MetricStat": {
                "Metric": {"Namespace": "AWS/SageMaker", "MetricName": m, "Dimensions": DIMS},
                "Period": 60,
                "Stat": s,
            },
        }
        for i, (m, s) in enumerate((("Invocations", "Sum"), ("ModelLatency", "p99"), ("Missing", "Sum")))
    ]
    got = answer(cbor.get_metric_data(MetricDataQueries=queries, **WINDOW))
    assert got == answer(json.get_metric_data(MetricDataQueries=queries, **WINDOW))
    assert [len(r["Timestamps"]) for r in got["MetricDataResults"]] == [30, 30, 0]
    assert got["MetricDataResults"][0]["Timestamps"][0] == DAY + timedelta(minutes=29)  # a datetime, as from JSON
    statistics = {"Namespace": "AWS/SageMaker", "MetricName": "ModelLatency", "Dimensions": DIMS, "Period": 600}
    stats = answer(cbor.get_metric_statistics(Statistics=["Maximum"], ExtendedStatistics=["p50"], **statistics, **WINDOW))
    assert stats == answer(json.get_metric_statistics(Statistics=["Maximum"], ExtendedStatistics=["p50"], **statistics, **WINDOW))
    assert len(stats["Datapoints"]) == 3 and isinstance(stats["Datapoints"][0]["Timestamp"], datetime)
    cbor.put_metric_alarm(
        AlarmName="latency",
        Namespace="AWS/SageMaker",
        MetricName="ModelLatency",
        Dimensions=DIMS,
        Statistic="Average",
        Period=300,
        EvaluationPeriods=1,
        Threshold=10.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    alarms = answer(cbor.describe_alarms(AlarmNamePrefix="lat"))
    assert alarms == answer(json.describe_alarms(AlarmNamePrefix="lat"))
    assert isinstance(alarms["MetricAlarms"][0]["AlarmConfigurationUpdatedTimestamp"], datetime)
    cbor.delete_alarms(AlarmNames=["latency"])
    assert json.describe_alarms()["MetricAlarms"] == []


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.get_metric_data(MetricDataQueries=[{"Id": "Bad-Id", "Expression": "x"}], **WINDOW),
        lambda c: c.get_metric_data(MetricDataQueries=[], StartTime=WINDOW["EndTime"], EndTime=WINDOW["StartTime"]),
        lambda c: c.delete_dashboards(DashboardNames=["nope"]),
    ],
    ids=["bad-id", "window", "not-found"],
)
def test_errors_keep_their_code_message_and_status(clients: tuple[Any, Any], call: Any) -> None:
    found = []
    for client in clients:
        with pytest.raises(ClientError) as raised:
            call(client)
        found.append((raised.value.response["Error"], raised.value.response["ResponseMetadata"]["HTTPStatusCode"]))
    assert found[0] == found[1] and found[0][1] in (400, 404) and found[0][0]["Message"]


def test_the_fast_decoder_reads_the_stacks_cbor_pages(clients: tuple[Any, Any]) -> None:
    cbor, _ = clients
    values = [float(i) for i in range(1440)]
    cbor.put_metric_data(
        Namespace="NS",
        MetricData=[{"MetricName": "M", "Timestamp": DAY + timedelta(minutes=i), "Value": v} for i, v in enumerate(values)],
    )
    query = [{"Id": "q", "MetricStat": {"Metric": {"Namespace": "NS", "MetricName": "M"}, "Period": 60, "Stat": "Sum"}}]
    window = {"StartTime": DAY, "EndTime": DAY + timedelta(days=1), "ScanBy": "TimestampAscending"}
    plain = cbor.get_metric_data(MetricDataQueries=query, **window)
    install_fast_decoder(cbor)
    page = decoded_page(cbor.get_metric_data(MetricDataQueries=query, **window))
    assert page.values.tolist() == values == plain["MetricDataResults"][0]["Values"]
    assert page.timestamps.tolist() == [int(DAY.timestamp()) + 60 * i for i in range(1440)]


def test_pages_written_as_cbor_decode_to_their_points() -> None:
    """Timestamps past 2106 (8-byte), NaN, an empty result, messages and a token: the decoder reads what was written."""
    late = np.array([1 << 32, (1 << 32) + 60], dtype=np.int64)
    results = [
        MetricResult("a", "A", np.array([60, 120], dtype=np.int64), np.array([1.5, np.nan])),
        MetricResult("b", "B", late, np.array([2.0, 3.0]), "PartialData", [{"Code": "MaxDatapoints", "Value": "x"}]),
        MetricResult("c", "C", np.empty(0, dtype=np.int64), np.empty(0)),
    ]
    body = _metric_data_cbor(MetricDataPage(results, next_token="next"))
    page = decode_get_metric_data(body, CBOR)
    assert page.ids == ["a", "b", "c"] and page.labels == ["A", "B", "C"] and page.next_token == "next"
    assert page.timestamps.tolist() == [60, 120, *late.tolist()] and np.diff(page.offsets).tolist() == [2, 2, 0]
    assert page.values[0] == 1.5 and np.isnan(page.values[1]) and page.values[2:].tolist() == [2.0, 3.0]
    assert page.status_codes == ["Complete", "PartialData", "Complete"] and page.messages[1] == [
        {"Code": "MaxDatapoints", "Value": "x"}
    ]
    assert cbor2.loads(body)["MetricDataResults"][1]["Timestamps"][0] == datetime.fromtimestamp(1 << 32, UTC)


def test_an_error_page_that_is_not_cbor_is_a_client_error_naming_its_status(stack: LocalStack) -> None:
    """moto fails on a region it does not know with the server's plain-text 500 page (as a proxy might): botocore's
    CBOR parser alone raised AttributeError on it; the session's clients report it as JSON clients do."""
    keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "xx-nowhere-1"}
    cbor = Session(endpoint_url=stack.endpoint_url, retries=FAIL_FAST, **keys).client("cloudwatch")
    json = boto3.client("cloudwatch", endpoint_url=stack.endpoint_url, config=FAIL_FAST, **keys)
    found = []
    for client in (cbor, json):
        with pytest.raises(ClientError) as raised:
            client.describe_alarms()
        found.append((raised.value.response["Error"]["Code"], raised.value.response["ResponseMetadata"]["HTTPStatusCode"]))
    assert found[0] == found[1] and found[0][1] == 500


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        ("/service/GraniteServiceVersion20100801/operation/NoSuchOperation", b"", 404, "UnknownOperationException"),
        ("/service/SomeOtherService/operation/GetMetricData", b"", 404, "UnknownOperationException"),
        ("/service/GraniteServiceVersion20100801/operation/ListMetrics", b"\xff\x00", 400, "SerializationException"),
    ],
)
def test_requests_the_stack_cannot_translate_are_cbor_errors(
    stack: LocalStack, path: str, body: bytes, status: int, error: str
) -> None:
    request = urllib.request.Request(stack.endpoint_url + path, data=body, method="POST")
    request.add_header("smithy-protocol", "rpc-v2-cbor")
    request.add_header("Content-Type", "application/cbor")
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)
    assert raised.value.code == status and raised.value.headers["Content-Type"] == "application/cbor"
    assert cbor2.loads(raised.value.read())["__type"] == error
