"""Decode GetMetricData bodies straight into numpy columns: botocore's parser makes one datetime per point."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cbor2
import numpy as np
import pydantic_core

from pipelines.errors import RetriableError

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

log = logging.getLogger(__name__)

CBOR = "smithy-rpc-v2-cbor"
JSON = "json"  # awsJson1_0: what botocore 1.44 resolves CloudWatch to (json ranks before cbor); ours ask CBOR (aws.py)
EVENT = "before-parse.cloudwatch.GetMetricData"
_UNIQUE_ID = "mlmon-fast-get-metric-data"
_MESSAGE_KEYS = ("Code", "Value")
_TAG_EPOCH = 0xC1  # CBOR major type 6, tag 1: epoch-based date/time
_NULLS = (0xF6, 0xF7)  # CBOR null and undefined: botocore reads both as None
# A Timestamps or Values array whose items all have the same encoding is decoded as one strided
# numpy view: (width of one item incl. its heads, payload dtype). Anything else goes through cbor2.
_TIMESTAMP_LAYOUTS = {0x1A: (6, ">u4"), 0x1B: (10, ">u8"), 0xFB: (10, ">f8"), 0xFA: (6, ">f4")}
_VALUE_LAYOUTS = {0xFB: (9, ">f8"), 0xFA: (5, ">f4")}


class MalformedMetricData(RetriableError):
    """A GetMetricData body that does not have the shape of the API's output."""


@dataclass(frozen=True, eq=False)
class DecodedPage:
    """One GetMetricData response as columns: result i's points are rows offsets[i]:offsets[i+1]."""

    ids: list[str]
    labels: list[str | None]
    status_codes: list[str]  # Complete, PartialData, InternalError, Forbidden ("" if absent)
    messages: list[list[dict[str, str]]]  # per result, parallel to ids
    offsets: np.ndarray  # int64, len(ids) + 1
    timestamps: np.ndarray  # int64 epoch seconds, UTC
    values: np.ndarray  # float64; NaN where the API sent NaN or null
    next_token: str | None
    call_messages: list[dict[str, str]]

    @property
    def num_points(self) -> int:
        # A property, not __len__: a page with results but no points must still be truthy.
        return int(self.timestamps.shape[0])

    def result_points(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """The timestamps and values of result i."""
        lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
        return self.timestamps[lo:hi], self.values[lo:hi]


def decode_get_metric_data(body: bytes, protocol: str) -> DecodedPage:
    """Decode a raw 200 GetMetricData body of `protocol` (smithy-rpc-v2-cbor or json)."""
    if not body:
        return _page({}, [], [], [])
    if protocol == CBOR:
        try:
            return _CborReader(body).page()
        except (IndexError, cbor2.CBORDecodeError) as error:
            raise MalformedMetricData(f"not a valid CBOR body: {error or 'it ends early'}") from error
    if protocol == JSON:
        return _json_page(body)
    raise ValueError(f"unsupported protocol {protocol!r}")


def page_from_parsed(response: Mapping[str, Any]) -> DecodedPage:
    """The same page from a response botocore parsed itself (datetimes, lists)."""
    results = [r for r in response.get("MetricDataResults") or () if r is not None]
    stamps = [[_datetime_seconds(t) for t in r.get("Timestamps") or ()] for r in results]
    values = [_float_list(r.get("Values") or ()) for r in results]
    return _page(response, results, stamps, values)


def decoded_page(response: Mapping[str, Any]) -> DecodedPage:
    """The page of a get_metric_data response, whether or not the fast decoder handled it."""
    page = response.get("DecodedPage")
    return page if isinstance(page, DecodedPage) else page_from_parsed(response)


def install_fast_decoder(client: CloudWatchClient) -> None:
    """Decode this CloudWatch client's GetMetricData bodies with the fast path (idempotent)."""
    client.meta.events.register(EVENT, _before_parse, unique_id=_UNIQUE_ID)


def _before_parse(
    response_dict: dict[str, Any], customized_response_dict: dict[str, Any], operation_model: Any, **_: Any
) -> None:
    """Decode a 200 body ourselves and hand botocore an equivalent body without the points."""
    body = response_dict.get("body")
    if response_dict.get("status_code") != 200 or not isinstance(body, bytes | bytearray):
        return
    service = operation_model.service_model
    protocol = getattr(service, "resolved_protocol", None) or service.metadata.get("protocol")
    wire = _wire_format(protocol, response_dict.get("headers") or {}, bytes(body[:64]))
    if wire is None:
        return
    try:
        page = decode_get_metric_data(bytes(body), wire)
    except (MalformedMetricData, ValueError, TypeError) as error:
        # botocore's own parser gets the untouched body: it either copes or reports the error.
        log.debug("fast GetMetricData decode failed, leaving the body to botocore: %s", error)
        return
    customized_response_dict["DecodedPage"] = page
    response_dict["body"] = _slim_body(page, wire)


def _wire_format(protocol: str | None, headers: Mapping[str, str], head: bytes) -> str | None:
    """Which decoder fits this response, or None to leave it to botocore."""
    content_type = (_header(headers, "content-type") or "").split(";")[0].strip().lower()
    smithy = (_header(headers, "smithy-protocol") or "").strip().lower()
    is_cbor = content_type == "application/cbor" or smithy == "rpc-v2-cbor"
    if protocol == CBOR and is_cbor:
        return CBOR
    # The emulator answers JSON as "text", so trust the body's first byte over the content type.
    if protocol == JSON and not is_cbor and head.lstrip()[:1] == b"{":
        return JSON
    return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # a plain dict (tests) is case-sensitive; botocore's HeadersDict is not
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


def _slim_body(page: DecodedPage, wire: str) -> bytes:
    """The body botocore still parses: everything but the points, which the page carries."""
    results = []
    for i, result_id in enumerate(page.ids):
        result: dict[str, Any] = {"Id": result_id, "Timestamps": [], "Values": []}
        if page.labels[i] is not None:
            result["Label"] = page.labels[i]
        if page.status_codes[i]:
            result["StatusCode"] = page.status_codes[i]
        if page.messages[i]:
            result["Messages"] = page.messages[i]
        results.append(result)
    doc: dict[str, Any] = {"MetricDataResults": results}
    if page.next_token is not None:
        doc["NextToken"] = page.next_token
    if page.call_messages:
        doc["Messages"] = page.call_messages
    return cbor2.dumps(doc) if wire == CBOR else json.dumps(doc).encode()


def _page(
    doc: Mapping[str, Any], results: Sequence[Mapping[str, Any]], stamps: Sequence[Any], values: Sequence[Any]
) -> DecodedPage:
    """Assemble a page from per-result metadata dicts and per-result point sequences."""
    counts = [len(t) for t in stamps]
    for result, n, v in zip(results, counts, values, strict=True):
        if len(v) != n:
            raise MalformedMetricData(f"result {result.get('Id')!r}: {n} timestamps but {len(v)} values")
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return DecodedPage(
        ids=[_result_id(r) for r in results],
        labels=[r.get("Label") for r in results],
        status_codes=[r.get("StatusCode") or "" for r in results],
        messages=[_messages(r.get("Messages")) for r in results],
        offsets=offsets,
        timestamps=_epoch_seconds(_concat(stamps, _number_array)),
        values=_concat(values, _float_list).astype(np.float64, copy=False),
        next_token=doc.get("NextToken"),
        call_messages=_messages(doc.get("Messages")),
    )


def _result_id(result: Mapping[str, Any]) -> str:
    result_id = result.get("Id")
    if not isinstance(result_id, str):
        raise MalformedMetricData(f"a result without an Id: {sorted(result)}")
    return result_id


def _messages(raw: Any) -> list[dict[str, str]]:
    """Messages as botocore shapes them: only the modelled keys, nulls dropped."""
    return [{k: m[k] for k in _MESSAGE_KEYS if m.get(k) is not None} for m in raw or () if isinstance(m, dict)]


def _concat(parts: Sequence[Any], convert: Callable[[list[Any]], np.ndarray]) -> np.ndarray:
    if parts and all(isinstance(p, np.ndarray) for p in parts):
        return np.concatenate(parts) if len(parts) > 1 else parts[0]
    return convert(list(itertools.chain.from_iterable(parts)))


def _number_array(items: list[Any]) -> np.ndarray:
    """Timestamps as sent: integers stay exact (a float64 round trip would not be)."""
    array = np.asarray(items) if items else np.empty(0, dtype=np.int64)
    if array.dtype.kind not in "iuf":
        raise MalformedMetricData(f"timestamps that are not numbers ({array.dtype})")
    return array


def _float_list(items: Sequence[Any]) -> np.ndarray:
    """Values as float64 in one C pass; JSON's "NaN"/"Infinity" strings and nulls become floats."""
    try:
        return np.array(items, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise MalformedMetricData(f"values that are not numbers: {error}") from error


def _epoch_seconds(array: np.ndarray) -> np.ndarray:
    """int64 epoch seconds; fractional seconds (never sent by CloudWatch) are floored."""
    if array.dtype.kind in "iu":
        return array.astype(np.int64, copy=False)
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise MalformedMetricData("a timestamp that is not a finite number")
        return np.floor(array).astype(np.int64)
    raise MalformedMetricData(f"timestamps of type {array.dtype}")


def _datetime_seconds(value: dt.datetime) -> int:
    if value.tzinfo is None:  # botocore always sets a zone; a naive one is taken as UTC
        value = value.replace(tzinfo=dt.UTC)
    return int(np.floor(value.timestamp()))


def _json_page(body: bytes) -> DecodedPage:
    # pydantic-core's JSON reader (a pinned dependency via pydantic) parses these number-heavy
    # bodies about 4x faster than json.loads, with the same values (NaN/Infinity tokens too).
    try:
        doc = pydantic_core.from_json(body)
    except ValueError as error:
        raise MalformedMetricData(f"the body is not JSON: {error}") from error
    if not isinstance(doc, dict):
        raise MalformedMetricData("the body is not a JSON object")
    results = [r for r in doc.get("MetricDataResults") or () if r is not None]
    return _page(doc, results, [r.get("Timestamps") or () for r in results], [r.get("Values") or () for r in results])


def _keep_value(value: Any, _immutable: bool) -> Any:
    """cbor2 semantic decoder for tag 1: keep the epoch number instead of building a datetime."""
    return value


class _CborReader:
    """Walks the few structural items of a CBOR body in Python and the point arrays with numpy."""

    def __init__(self, body: bytes) -> None:
        self.buf = body
        self.pos = 0
        self._fp = io.BytesIO(body)
        self._decoder = cbor2.CBORDecoder(self._fp, semantic_decoders={1: _keep_value})

    def page(self) -> DecodedPage:
        doc: dict[str, Any] = {}
        results: list[dict[str, Any]] = []
        stamps: list[np.ndarray] = []
        values: list[np.ndarray] = []
        for key in self._map_keys():
            if key == "MetricDataResults" and self.buf[self.pos] not in _NULLS:
                for _ in self._array_items():
                    result, ts, vs = self._result()
                    if result is not None:
                        results.append(result)
                        stamps.append(ts)
                        values.append(vs)
            else:
                doc[key] = self.item()
        if self.pos != len(self.buf):
            raise MalformedMetricData(f"{len(self.buf) - self.pos} bytes after the CBOR body")
        return _page(doc, results, stamps, values)

    def _result(self) -> tuple[dict[str, Any] | None, np.ndarray, np.ndarray]:
        if self.buf[self.pos] in _NULLS:  # a null entry: botocore keeps it as None; it has no points
            self.pos += 1
            return None, np.empty(0, np.int64), np.empty(0, np.float64)
        result: dict[str, Any] = {}
        ts, vs = np.empty(0, np.int64), np.empty(0, np.float64)
        for key in self._map_keys():
            if key == "Timestamps":
                ts = _epoch_seconds(self._numbers(_TIMESTAMP_LAYOUTS, tagged=True))
            elif key == "Values":
                vs = self._numbers(_VALUE_LAYOUTS, tagged=False).astype(np.float64, copy=False)
            else:
                value = self.item()
                if value is not None:
                    result[key] = value
        return result, ts, vs

    def item(self) -> Any:
        """Any one item, decoded by cbor2 (the decoder reads from wherever we point the stream)."""
        self._fp.seek(self.pos)
        value = self._decoder.decode()
        self.pos = self._fp.tell()
        return value

    def _head(self) -> tuple[int, int | None]:
        """Major type and argument of the next item (None: indefinite length)."""
        buf, pos = self.buf, self.pos
        if pos >= len(buf):
            raise MalformedMetricData("the CBOR body ends early")
        major, info = buf[pos] >> 5, buf[pos] & 0x1F
        if info < 24:
            self.pos = pos + 1
            return major, info
        if info == 31:
            self.pos = pos + 1
            return major, None
        if info > 27:
            raise MalformedMetricData(f"bad CBOR head byte {buf[pos]:#x} at {pos}")
        size = 1 << (info - 24)
        self.pos = pos + 1 + size
        return major, int.from_bytes(buf[pos + 1 : pos + 1 + size], "big")

    def _items(self, major: int) -> Iterator[None]:
        """Step through a map's keys or an array's items; the caller consumes each one."""
        found, count = self._head()
        if found != major:
            raise MalformedMetricData(f"expected CBOR major type {major}, found {found} at {self.pos}")
        for _ in range(count) if count is not None else itertools.count():
            if count is None and self.buf[self.pos] == 0xFF:  # the break of an indefinite length
                self.pos += 1
                return
            yield None

    def _array_items(self) -> Iterator[None]:
        return self._items(4)

    def _map_keys(self) -> Iterator[str]:
        for _ in self._items(5):
            key = self.item()
            if not isinstance(key, str):
                raise MalformedMetricData(f"a map key that is not text: {key!r}")
            yield key

    def _numbers(self, layouts: Mapping[int, tuple[int, str]], *, tagged: bool) -> np.ndarray:
        """A Timestamps/Values array as a strided view when uniform; through cbor2 otherwise."""
        start = self.pos
        major, count = self._head()
        if major == 4 and count is not None:
            if count == 0:
                return np.empty(0, np.float64)
            pos, buf = self.pos, self.buf
            lead = 2 if tagged else 1
            kind = buf[pos + lead - 1] if pos + lead <= len(buf) else -1
            layout = layouts.get(kind)
            if layout is not None and (not tagged or buf[pos] == _TAG_EPOCH) and pos + count * layout[0] <= len(buf):
                width, dtype = layout
                heads = np.ndarray((count,), dtype=">u2" if tagged else "u1", buffer=buf, offset=pos, strides=(width,))
                expected = (_TAG_EPOCH << 8 | kind) if tagged else kind
                if bool((heads == expected).all()):
                    self.pos = pos + count * width
                    return np.ndarray((count,), dtype=dtype, buffer=buf, offset=pos + lead, strides=(width,))
        self.pos = start
        items = self.item()
        if items is None:
            return np.empty(0, np.float64)
        if not isinstance(items, list):
            raise MalformedMetricData(f"expected an array of numbers at {start}")
        return _number_array(items) if tagged else _float_list(items)
