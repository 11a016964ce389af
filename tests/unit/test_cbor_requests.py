"""cbor2's encoding of CloudWatch requests is byte for byte botocore's, on every operation's input shape."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import botocore
import cbor2
import pytest
from botocore.exceptions import ParamValidationError
from botocore.model import OperationModel, Shape, StructureShape
from botocore.serialize import RpcV2CBORSerializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines import cbor_requests
from pipelines.aws import Session
from pipelines.cbor_requests import FastRpcV2CBORSerializer

pytestmark = pytest.mark.skipif(botocore.__version__ != cbor_requests.PINNED, reason="installed on the pinned botocore only")


def _client(service: str = "cloudwatch") -> Any:
    session = Session(
        endpoint_url="http://127.0.0.1:9", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    return session.client(service)


CLIENT = _client()
MODEL = CLIENT.meta.service_model
OPERATIONS = [MODEL.operation_model(name) for name in MODEL.operation_names]


def _pair() -> tuple[FastRpcV2CBORSerializer, RpcV2CBORSerializer]:
    fast = FastRpcV2CBORSerializer("default")
    return fast, RpcV2CBORSerializer("default")


def _values(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    """Any value botocore accepts for `shape` (unset members as None too, which both must leave out)."""
    kind = shape.type_name
    if kind == "structure":
        members = shape.members if depth < 6 else {}  # type: ignore[attr-defined]
        optional = {name: st.none() | _values(member, depth + 1) for name, member in members.items()}
        return st.fixed_dictionaries({}, optional=optional)
    if kind == "list":
        return st.lists(_values(shape.member, depth + 1), max_size=3)  # type: ignore[attr-defined]
    if kind == "map":
        return st.dictionaries(st.text(max_size=5), _values(shape.value, depth + 1), max_size=3)  # type: ignore[attr-defined]
    if kind == "string":
        return st.text(max_size=30)
    if kind in ("integer", "long"):
        return st.integers(min_value=-(2**63), max_value=2**64 - 1) | st.booleans()
    if kind == "double":
        return st.floats(allow_nan=True, allow_infinity=True) | st.integers(min_value=-(2**53), max_value=2**53)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        naive = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1))
        return naive | naive.map(lambda moment: moment.replace(tzinfo=dt.UTC)) | st.integers(0, 2**33)
    raise AssertionError(f"CloudWatch has a {kind} input now: give it a strategy")


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.name)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_every_operation_is_encoded_as_botocore_encodes_it(operation: OperationModel, data: st.DataObject) -> None:
    params = data.draw(_values(operation.input_shape))
    fast, slow = _pair()
    request = fast.serialize_to_request(params, operation)
    assert request == slow.serialize_to_request(params, operation)
    convert = fast._input_converter(operation.input_shape)  # and cbor2 wrote it: valid values never fall back
    assert convert is not None and cbor2.dumps(convert(params)) == request["body"]


def test_a_night_of_queries_is_the_same_bytes() -> None:
    """The call that matters: 500 queries with dimensions, labels, periods, microsecond and naive timestamps."""
    queries = [
        {
            "Id": f"q{i}",
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/SageMaker",
                    "MetricName": "ModelLatency",
                    "Dimensions": [
                        {"Name": "EndpointName", "Value": f"ep-{i:05d}"},
                        {"Name": "VariantName", "Value": "AllTraffic"},
                    ],
                },
                "Period": 60,
                "Stat": "p99",
                "Unit": None,
            },
            "Label": f"séries {i}",
            "ReturnData": True,
        }
        for i in range(500)
    ]
    params = {
        "MetricDataQueries": queries,
        "StartTime": dt.datetime(2026, 11, 30, tzinfo=dt.UTC),
        "EndTime": dt.datetime(2026, 12, 1, 0, 0, 0, 3691),
        "ScanBy": "TimestampAscending",
        "NextToken": None,
    }
    operation = MODEL.operation_model("GetMetricData")
    fast, slow = _pair()
    body = fast.serialize_to_request(params, operation)["body"]
    assert body == slow.serialize_to_request(params, operation)["body"]
    assert b"NextToken" not in body and b"Unit" not in body  # unset members are left out
    convert = fast._input_converter(operation.input_shape)  # written by cbor2, not by the fallback
    assert convert is not None and cbor2.dumps(convert(params)) == body


def test_a_value_of_the_wrong_type_gets_botocores_own_error() -> None:
    operation = MODEL.operation_model("ListMetrics")
    fast, slow = _pair()
    for params in ({"Namespace": 7}, {"Namespace": "AWS/SageMaker", "Unknown": "x"}):
        with pytest.raises(Exception) as ours:
            fast.serialize_to_request(params, operation)
        with pytest.raises(Exception) as botocores:
            slow.serialize_to_request(params, operation)
        assert type(ours.value) is type(botocores.value) and str(ours.value) == str(botocores.value)


def test_a_blob_stream_is_left_to_botocore_and_read_once() -> None:
    """CloudWatch takes no blob; a service that does gets the stream read by botocore, not drained first by us."""
    shape = Shape("Body", {"type": "blob"})
    fast, slow = _pair()
    assert cbor_requests._Compiler(fast).converter(shape)(b"ab") == b"ab"
    wrapper = StructureShape("Input", {"type": "structure", "members": {"Body": {"shape": "Body"}}}, _Resolver({"Body": shape}))
    stream = io.BytesIO(b"payload")
    assert fast._serialize_body_params({"Body": stream}, wrapper) == slow._serialize_body_params(
        {"Body": io.BytesIO(b"payload")}, wrapper
    )


class _Resolver:
    """Just enough of botocore's ShapeResolver for a hand-made structure."""

    def __init__(self, shapes: dict[str, Shape]) -> None:
        self._shapes = shapes

    def resolve_shape_ref(self, ref: dict[str, Any]) -> Shape:
        return self._shapes[ref["shape"]]


def test_a_session_gives_cloudwatch_the_fast_serializer_behind_botocores_validation() -> None:
    holder = CLIENT._serializer
    assert isinstance(holder._serializer, FastRpcV2CBORSerializer)  # parameter validation still runs first
    with pytest.raises(ParamValidationError):
        CLIENT.list_metrics(Namespace=7)
    installed = holder._serializer
    assert cbor_requests.install(CLIENT) is True and CLIENT._serializer._serializer is installed  # installed once
    assert cbor_requests.install(_client("s3")) is False  # REST-XML: botocore's own
