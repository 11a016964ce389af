"""The fast GetMetricData decoder gives exactly what botocore's parser gives, on both wire protocols."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import boto3
import botocore.session
import cbor2
import numpy as np
import pytest
from botocore.awsrequest import AWSResponse
from botocore.parsers import create_parser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.aws import Session
from pipelines.sources.cloudwatch_metrics.decode import (
    CBOR,
    JSON,
    DecodedPage,
    MalformedMetricData,
    _before_parse,
    decode_get_metric_data,
    decoded_page,
    install_fast_decoder,
    page_from_parsed,
)
from tests.clock import STACK_NOW

OPERATION = botocore.session.get_session().get_service_model("cloudwatch").operation_model("GetMetricData")
T0 = 1_780_000_000  # 2026-05-28, a whole minute

# One page with every shape the API sends: points, no points, PartialData with messages,
# a NaN, call-level messages and a NextToken.
DOC: dict[str, Any] = {
    "MetricDataResults": [
        {
            "Id": "q0",
            "Label": "Invocations",
            "Timestamps": [T0 + 120, T0 + 60, T0],
            "Values": [3.0, 2.5, 0.0],
            "StatusCode": "Complete",
        },
        {"Id": "q1", "Label": "empty", "Timestamps": [], "Values": [], "StatusCode": "Complete"},
        {
            "Id": "q2",
            "Label": "ModelLatency p99",
            "Timestamps": [T0 + 60, T0],
            "Values": [float("nan"), 123456.75],
            "StatusCode": "PartialData",
            "Messages": [{"Code": "ArithmeticError", "Value": "one point could not be computed"}],
        },
        {"Id": "q3", "Timestamps": [T0], "Values": [-1e-300], "StatusCode": "InternalError"},
    ],
    "NextToken": "token-2",
    "Messages": [{"Code": "MaxQueryTimeRangeExceed", "Value": "some data is older than retention"}],
}


def cbor_body(doc: dict[str, Any], *, float_timestamps: bool = False, **options: Any) -> bytes:
    """`doc` as smithy-rpc-v2-cbor puts it on the wire: timestamps are tag 1 epoch seconds."""
    tagged = json.loads(json.dumps(doc))  # a deep copy (NaN survives)
    for result in tagged.get("MetricDataResults") or ():
        if result and result.get("Timestamps") is not None:
            result["Timestamps"] = [cbor2.CBORTag(1, float(t) if float_timestamps else t) for t in result["Timestamps"]]
    return cbor2.dumps(tagged, **options)


def json_body(doc: dict[str, Any], *, nan_as_string: bool = True) -> bytes:
    """`doc` as awsJson1_0 puts it on the wire: epoch-second numbers, "NaN" for non-finite doubles."""

    def fix(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value) and nan_as_string:
            return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        if isinstance(value, dict):
            return {k: fix(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    return json.dumps(fix(doc)).encode()


def botocore_page(body: bytes, protocol: str) -> DecodedPage:
    parsed = create_parser(protocol).parse({"body": body, "headers": {}, "status_code": 200}, OPERATION.output_shape)
    return page_from_parsed(parsed)


def assert_same_page(got: DecodedPage, want: DecodedPage) -> None:
    assert got.ids == want.ids
    assert got.labels == want.labels
    assert got.status_codes == want.status_codes
    assert got.messages == want.messages
    assert got.next_token == want.next_token
    assert got.call_messages == want.call_messages
    assert got.offsets.dtype == np.int64 and got.timestamps.dtype == np.int64 and got.values.dtype == np.float64
    np.testing.assert_array_equal(got.offsets, want.offsets)
    np.testing.assert_array_equal(got.timestamps, want.timestamps)
    np.testing.assert_array_equal(got.values, want.values)  # NaN == NaN here


BODIES = {
    "cbor": (lambda d: cbor_body(d), CBOR),
    "cbor-float-timestamps": (lambda d: cbor_body(d, float_timestamps=True), CBOR),
    "cbor-canonical": (lambda d: cbor_body(d, canonical=True), CBOR),  # smallest floats: mixed widths
    "cbor-indefinite": (lambda d: cbor_body(d, indefinite_containers=True), CBOR),
    "json": (lambda d: json_body(d), JSON),
    "json-bare-nan": (lambda d: json_body(d, nan_as_string=False), JSON),
}


@pytest.mark.parametrize("kind", sorted(BODIES))
def test_decode_matches_botocore(kind: str) -> None:
    encode, protocol = BODIES[kind]
    body = encode(DOC)
    page = decode_get_metric_data(body, protocol)
    assert_same_page(page, botocore_page(body, protocol))
    assert page.ids == ["q0", "q1", "q2", "q3"]
    assert page.labels == ["Invocations", "empty", "ModelLatency p99", None]
    assert page.status_codes == ["Complete", "Complete", "PartialData", "InternalError"]
    assert page.messages[2] == [{"Code": "ArithmeticError", "Value": "one point could not be computed"}]
    assert page.offsets.tolist() == [0, 3, 3, 5, 6]
    assert page.timestamps.tolist() == [T0 + 120, T0 + 60, T0, T0 + 60, T0, T0]
    assert np.isnan(page.values[3]) and page.values[4] == 123456.75
    assert page.next_token == "token-2"
    assert page.num_points == 6
    ts, values = page.result_points(0)
    assert ts.tolist() == [T0 + 120, T0 + 60, T0] and values.tolist() == [3.0, 2.5, 0.0]


@pytest.mark.parametrize("kind", sorted(BODIES))
def test_sparse_responses(kind: str) -> None:
    encode, protocol = BODIES[kind]
    doc = {
        "MetricDataResults": [{"Id": "a"}, {"Id": "b", "Label": "x", "Timestamps": [T0], "Values": [1.0], "Unknown": {"x": [1]}}],
        "Future": 1,
    }
    body = encode(doc)
    page = decode_get_metric_data(body, protocol)
    assert_same_page(page, botocore_page(body, protocol))
    assert page.status_codes == ["", ""] and page.next_token is None and page.call_messages == []
    nulls = {
        "MetricDataResults": [None, {"Id": "c", "Label": None, "Timestamps": None, "Values": None, "Messages": [None]}],
        "NextToken": None,
    }
    body = encode(nulls)
    page = decode_get_metric_data(body, protocol)
    assert_same_page(page, botocore_page(body, protocol))
    assert page.ids == ["c"] and page.labels == [None] and page.messages == [[]] and page.num_points == 0
    assert page  # a page without points is still a page (the extractor tests `get("DecodedPage") or ...`)
    for empty_doc in ({"MetricDataResults": None}, {}):
        assert_same_page(decode_get_metric_data(encode(empty_doc), protocol), botocore_page(encode(empty_doc), protocol))
    empty = decode_get_metric_data(encode({"MetricDataResults": []}), protocol)
    assert empty.ids == [] and empty.offsets.tolist() == [0] and empty.num_points == 0
    assert decode_get_metric_data(b"", protocol).num_points == 0


def test_malformed_bodies_are_errors() -> None:
    good = cbor_body(DOC)
    with pytest.raises(MalformedMetricData):
        decode_get_metric_data(good + b"\x00", CBOR)
    with pytest.raises(MalformedMetricData):
        decode_get_metric_data(good[:-7], CBOR)
    uneven = {"MetricDataResults": [{"Id": "a", "Timestamps": [T0, T0 + 60], "Values": [1.0]}]}
    for body, protocol in ((cbor_body(uneven), CBOR), (json_body(uneven), JSON)):
        with pytest.raises(MalformedMetricData, match="2 timestamps but 1 values"):
            decode_get_metric_data(body, protocol)
    with pytest.raises(MalformedMetricData):
        decode_get_metric_data(b"{not json", JSON)
    with pytest.raises(ValueError, match="unsupported protocol"):
        decode_get_metric_data(good, "query")


MESSAGES = st.lists(st.fixed_dictionaries({"Code": st.text(max_size=8), "Value": st.text(max_size=20)}), max_size=2)
VALUES = st.floats(allow_nan=True, allow_infinity=True, width=64)
FINITE = st.floats(allow_nan=False, allow_infinity=False, width=64)
# Whole range (mixed CBOR integer widths: the cbor2 fallback) or today's (one width: the strided path).
TIMESTAMP_RANGES = [(0, 253_402_300_000), (1_700_000_000, 1_800_000_000)]


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    results = []
    for i in range(draw(st.integers(0, 6))):
        n = draw(st.integers(0, 30))
        lo, hi = draw(st.sampled_from(TIMESTAMP_RANGES))
        result: dict[str, Any] = {
            "Id": f"q{i}",
            "Timestamps": draw(st.lists(st.integers(lo, hi), min_size=n, max_size=n)),
            "Values": draw(st.lists(draw(st.sampled_from([VALUES, FINITE])), min_size=n, max_size=n)),
            "StatusCode": draw(st.sampled_from(["Complete", "PartialData", "InternalError", "Forbidden"])),
        }
        if draw(st.booleans()):
            result["Label"] = draw(st.text(max_size=30))
        if messages := draw(MESSAGES):
            result["Messages"] = messages
        results.append(result)
    doc: dict[str, Any] = {"MetricDataResults": results}
    if draw(st.booleans()):
        doc["NextToken"] = draw(st.text(min_size=1, max_size=40))
    if messages := draw(MESSAGES):
        doc["Messages"] = messages
    return doc


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents(), kind=st.sampled_from(sorted(BODIES)))
def test_round_trip_random_pages(doc: dict[str, Any], kind: str) -> None:
    encode, protocol = BODIES[kind]
    body = encode(doc)
    page = decode_get_metric_data(body, protocol)
    assert_same_page(page, botocore_page(body, protocol))
    want = [t for r in doc["MetricDataResults"] for t in r["Timestamps"]]
    assert page.timestamps.tolist() == want


class _FakeService:
    def __init__(self, protocol: str) -> None:
        self.resolved_protocol = protocol
        self.metadata = {"protocol": CBOR}


class _FakeOperation:
    def __init__(self, protocol: str) -> None:
        self.service_model = _FakeService(protocol)


@pytest.mark.parametrize(
    ("protocol", "headers", "encode"),
    [
        (CBOR, {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}, cbor_body),
        (JSON, {"Content-Type": "application/x-amz-json-1.0"}, json_body),
        (JSON, {"Content-Type": "text"}, json_body),  # what the emulator sends
    ],
)
def test_handler_slims_the_body_botocore_parses(protocol: str, headers: dict[str, str], encode: Any) -> None:
    body = encode(DOC)
    response = {"status_code": 200, "headers": headers, "body": body}
    custom: dict[str, Any] = {}
    _before_parse(response_dict=response, customized_response_dict=custom, operation_model=_FakeOperation(protocol))
    assert len(response["body"]) < len(body)
    parsed = create_parser(protocol).parse(response, OPERATION.output_shape)
    parsed.update(custom)
    assert_same_page(decoded_page(parsed), botocore_page(body, protocol))
    # What botocore parsed from the slim body is the original minus the points.
    full = create_parser(protocol).parse({"body": body, "headers": {}, "status_code": 200}, OPERATION.output_shape)
    for slim_result, full_result in zip(parsed["MetricDataResults"], full["MetricDataResults"], strict=True):
        assert slim_result["Timestamps"] == [] and slim_result["Values"] == []
        assert {k: v for k, v in slim_result.items() if k not in ("Timestamps", "Values")} == {
            k: v for k, v in full_result.items() if k not in ("Timestamps", "Values")
        }
    assert parsed["NextToken"] == full["NextToken"] and parsed["Messages"] == full["Messages"]


@pytest.mark.parametrize(
    ("status", "protocol", "headers", "body"),
    [
        (400, JSON, {}, json_body(DOC)),  # errors are botocore's business
        (200, JSON, {"Content-Type": "application/cbor"}, cbor_body(DOC)),  # not what the client speaks
        (200, CBOR, {}, cbor_body(DOC)),  # a CBOR client but no CBOR headers
        (200, "query", {}, b"<GetMetricDataResponse/>"),
        (200, JSON, {}, b'{"MetricDataResults": [{"Id": "a", "Timestamps": [1, 2], "Values": [1.0]}]}'),  # malformed
    ],
)
def test_handler_leaves_other_responses_alone(status: int, protocol: str, headers: dict[str, str], body: bytes) -> None:
    response = {"status_code": status, "headers": headers, "body": body}
    custom: dict[str, Any] = {}
    _before_parse(response_dict=response, customized_response_dict=custom, operation_model=_FakeOperation(protocol))
    assert response["body"] is body and custom == {}


def _stubbed_client(*bodies: bytes) -> Any:
    """A real CloudWatch client whose HTTP layer answers calls with `bodies`, in turn (the last one repeats)."""
    client = boto3.client("cloudwatch", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    queue = list(bodies)

    def answer(request: Any, **_: Any) -> AWSResponse:
        body = queue.pop(0) if len(queue) > 1 else queue[0]
        return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.0"}, _Raw(body))

    client.meta.events.register("before-send.cloudwatch.GetMetricData", answer)
    return client


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


QUERY = [{"Id": "q0", "MetricStat": {"Metric": {"Namespace": "N", "MetricName": "M"}, "Period": 60, "Stat": "Sum"}}]
WINDOW = {"StartTime": dt.datetime(2026, 5, 28), "EndTime": dt.datetime(2026, 5, 29)}


def test_install_on_a_real_client_idempotently() -> None:
    assert boto3.client("cloudwatch", region_name="us-east-1").meta.service_model.resolved_protocol == JSON
    body = json_body(DOC)
    plain = _stubbed_client(body).get_metric_data(MetricDataQueries=QUERY, **WINDOW)
    client = _stubbed_client(body)
    install_fast_decoder(client)
    install_fast_decoder(client)  # a second handler would see the slim body and lose every point
    fast = client.get_metric_data(MetricDataQueries=QUERY, **WINDOW)
    assert isinstance(fast["DecodedPage"], DecodedPage)
    assert_same_page(decoded_page(fast), page_from_parsed(plain))
    assert fast["DecodedPage"].num_points == 6
    assert [r["Id"] for r in fast["MetricDataResults"]] == [r["Id"] for r in plain["MetricDataResults"]]
    assert fast["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_pages_of_a_paginator_each_carry_their_points() -> None:
    second = {"MetricDataResults": [{"Id": "q0", "Timestamps": [T0 - 60], "Values": [9.0], "StatusCode": "Complete"}]}
    client = _stubbed_client(json_body(DOC), json_body(second))
    install_fast_decoder(client)
    pages = list(client.get_paginator("get_metric_data").paginate(MetricDataQueries=QUERY, **WINDOW))
    assert [decoded_page(p).num_points for p in pages] == [6, 1]
    assert decoded_page(pages[0]).next_token == "token-2" and decoded_page(pages[1]).next_token is None
    assert decoded_page(pages[1]).timestamps.tolist() == [T0 - 60]


def test_against_the_emulator(endpoint_url: str) -> None:
    session = Session(endpoint_url=endpoint_url, region_name="us-east-1")
    writer = session.client("cloudwatch")
    now = STACK_NOW
    dims = [{"Name": "EndpointName", "Value": "fraud"}, {"Name": "VariantName", "Value": "AllTraffic"}]
    for name, scale in (("Invocations", 1.0), ("ModelLatency", 1000.5)):
        data = [
            {"MetricName": name, "Dimensions": dims, "Timestamp": now - dt.timedelta(minutes=i), "Value": scale * i}
            for i in range(1, 6)
        ]
        writer.put_metric_data(Namespace="AWS/SageMaker", MetricData=data)
    queries = [
        {
            "Id": f"q{i}",
            "MetricStat": {
                "Metric": {"Namespace": "AWS/SageMaker", "MetricName": name, "Dimensions": dims},
                "Period": 60,
                "Stat": stat,
            },
        }
        for i, (name, stat) in enumerate(
            (("Invocations", "Sum"), ("ModelLatency", "Average"), ("ModelLatency", "Maximum"), ("Missing", "Sum"))
        )
    ]
    window = {"StartTime": now - dt.timedelta(hours=1), "EndTime": now + dt.timedelta(minutes=1)}
    plain = session.client("cloudwatch").get_metric_data(MetricDataQueries=queries, **window)
    client = session.client("cloudwatch")
    install_fast_decoder(client)
    fast = client.get_metric_data(MetricDataQueries=queries, **window)
    assert "DecodedPage" in fast and "DecodedPage" not in plain
    page = decoded_page(fast)
    assert_same_page(page, page_from_parsed(plain))
    assert page.ids == ["q0", "q1", "q2", "q3"] and np.diff(page.offsets).tolist() == [5, 5, 5, 0]
    expected = sorted(int((now - dt.timedelta(minutes=i)).timestamp()) for i in range(1, 6))
    assert sorted(page.result_points(1)[0].tolist()) == expected
    assert sorted(page.result_points(1)[1].tolist()) == [1000.5 * i for i in range(1, 6)]
