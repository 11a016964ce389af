"""CloudWatch's Smithy RPC v2 CBOR protocol in front of moto, which speaks only CloudWatch's JSON and query protocols.

CloudWatch's model lists CBOR first among its protocols and the pipeline's clients use it (`pipelines.aws`): a
GetMetricData page of 100,000 points is half the bytes of its JSON and is decoded as two numpy views instead of
200,000 parsed numbers. moto 5.2.5 answers no CBOR request (it routes on `X-Amz-Target`, which CBOR does not
send), so the stack translates: the CBOR request becomes the JSON request moto knows, and moto's JSON answer
becomes CBOR, timestamps tagged as the operation's output shape says (tag 1, epoch seconds) and errors keeping
`__type` and `message`. GetMetricData, whose JSON answer would be read back number by number, is written as
CBOR by the stack's CloudWatch directly (`cloudwatch_moto`), told by the `MARK` header that the caller asked so.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import gzip
import io
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

import botocore.session
import cbor2
from botocore.model import OperationModel, Shape
from botocore.utils import parse_timestamp

CONTENT_TYPE = "application/cbor"
# Set on the JSON request moto receives: its CloudWatch may answer GetMetricData as CBOR itself.
MARK = "X-Mlmon-Rpc-V2-Cbor"
_PATH = re.compile(r"/service/(?P<target>[A-Za-z0-9_.]+)/operation/(?P<operation>[A-Za-z0-9_]+)")
# The services whose CBOR the stack speaks, by the target prefix their requests name.
_SERVICES = {"GraniteServiceVersion20100801": "cloudwatch"}

Application = Callable[[dict[str, Any], Any], Iterable[bytes]]


def application(moto: Application) -> Application:
    """`moto` with CBOR requests translated; any other request passes through untouched."""

    def translated(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        match = _PATH.fullmatch(environ.get("PATH_INFO", ""))
        if match is None or environ.get("HTTP_SMITHY_PROTOCOL", "").strip().lower() != "rpc-v2-cbor":
            return moto(environ, start_response)
        target, operation = match["target"], match["operation"]
        model = _operation(target, operation)
        if model is None:
            return _answer(
                start_response, "404 Not Found", {"__type": "UnknownOperationException", "message": f"{target}.{operation}"}
            )
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            if environ.get("HTTP_CONTENT_ENCODING", "").strip().lower() == "gzip":  # botocore compresses large PutMetricData
                raw = gzip.decompress(raw)
            params = cbor2.loads(raw) if raw else {}
        except (cbor2.CBORDecodeError, OSError, EOFError) as error:
            return _answer(start_response, "400 Bad Request", {"__type": "SerializationException", "message": str(error)})
        body = json.dumps(params, default=_json_value).encode()
        inner = {k: v for k, v in environ.items() if k != "HTTP_CONTENT_ENCODING"}  # the JSON body is not compressed
        inner.update(
            {
                "PATH_INFO": "/",
                "RAW_URI": "/",
                "REQUEST_URI": "/",
                "QUERY_STRING": "",
                "CONTENT_TYPE": "application/x-amz-json-1.0",
                "CONTENT_LENGTH": str(len(body)),
                "HTTP_X_AMZ_TARGET": f"{target}.{operation}",
                "HTTP_" + MARK.upper().replace("-", "_"): "1",
                "wsgi.input": io.BytesIO(body),
            }
        )
        status, headers, answer = _call(moto, inner)
        if _header(headers, "content-type") == CONTENT_TYPE:
            return _respond(start_response, status, headers, answer)
        doc = json.loads(answer) if answer.strip() else {}
        if status.startswith("2"):
            doc = _tagged(doc, model.output_shape)
        return _respond(start_response, status, headers, cbor2.dumps(doc))

    return translated


@functools.cache
def _operation(target: str, operation: str) -> OperationModel | None:
    service = _SERVICES.get(target)
    if service is None:
        return None
    model = botocore.session.get_session().get_service_model(service)
    return model.operation_model(operation) if operation in model.operation_names else None


def _json_value(value: Any) -> Any:
    """What CBOR carries that JSON does not: a timestamp (tag 1) as epoch seconds, bytes as base64."""
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} in a CBOR request")


def _tagged(value: Any, shape: Shape | None) -> Any:
    """moto's JSON answer with timestamps as CBOR's epoch tag and blobs as bytes, as the output shape says."""
    if shape is None or value is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = shape.members  # type: ignore[attr-defined]
        return {k: _tagged(v, members.get(k)) for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_tagged(v, shape.member) for v in value]  # type: ignore[attr-defined]
    if kind == "map" and isinstance(value, dict):
        return {k: _tagged(v, shape.value) for k, v in value.items()}  # type: ignore[attr-defined]
    if kind == "timestamp":
        stamp = parse_timestamp(value).timestamp()
        return cbor2.CBORTag(1, int(stamp) if stamp.is_integer() else stamp)
    if kind == "blob" and isinstance(value, str):
        return base64.b64decode(value)
    return value


def _call(app: Application, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    found: dict[str, Any] = {}
    written: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        found["status"], found["headers"] = status, headers
        return written.append

    result = app(environ, start_response)
    try:
        written.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return found["status"], found["headers"], b"".join(written)


def _header(headers: list[tuple[str, str]], name: str) -> str:
    return next((v.split(";")[0].strip().lower() for k, v in headers if k.lower() == name), "")


def _respond(start_response: Any, status: str, headers: list[tuple[str, str]], body: bytes) -> list[bytes]:
    kept = [(k, v) for k, v in headers if k.lower() not in {"content-type", "content-length", "smithy-protocol"}]
    start_response(
        status,
        [*kept, ("Content-Type", CONTENT_TYPE), ("smithy-protocol", "rpc-v2-cbor"), ("Content-Length", str(len(body)))],
    )
    return [body]


def _answer(start_response: Any, status: str, error: dict[str, str]) -> list[bytes]:
    return _respond(start_response, status, [], cbor2.dumps(error))
