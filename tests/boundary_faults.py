"""Faults injected at the AWS boundary: a botocore `before-send` handler answers a share of requests itself, with
what AWS answers when it is overloaded (throttling in each protocol's own error format, HTTP 500/503) or with a read
timeout, before the request reaches the local stack. botocore's retries see exactly what they would see from AWS."""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import cbor2
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

# (HTTP status, body) per protocol family, keyed by the service id botocore puts in the event name.
_XML_REST = {"s3"}
_XML_QUERY = {"sts", "sns", "iam"}


class _Body:
    """The raw stream an AWSResponse reads its content from."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Any:
        yield self.data


def throttled(service: str, url: str, headers: Any = None) -> AWSResponse:
    """What `service` answers when it throttles, in its own protocol's error format (the request's: CloudWatch is
    asked in Smithy RPC v2 CBOR where botocore speaks it, and answers in kind)."""
    if any(k.lower() == "smithy-protocol" and v in (b"rpc-v2-cbor", "rpc-v2-cbor") for k, v in dict(headers or {}).items()):
        body = cbor2.dumps({"__type": "ThrottlingException", "message": "injected: rate exceeded"})
        return AWSResponse(url, 400, {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}, _Body(body))
    if service in _XML_REST:
        body = b"<Error><Code>SlowDown</Code><Message>injected: reduce your request rate</Message></Error>"
        return AWSResponse(url, 503, {"Content-Type": "application/xml"}, _Body(body))
    if service in _XML_QUERY:
        body = (
            b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>injected</Message></Error></ErrorResponse>"
        )
        return AWSResponse(url, 400, {"Content-Type": "text/xml"}, _Body(body))
    payload = {"__type": "ThrottlingException", "message": "injected: rate exceeded"}
    return AWSResponse(url, 400, {"Content-Type": "application/x-amz-json-1.1"}, _Body(json.dumps(payload).encode()))


def server_error(url: str, status: int) -> AWSResponse:
    return AWSResponse(url, status, {}, _Body(b""))


@dataclass
class Storm:
    """Answers `share` of the requests whose service is in `services` with a fault: throttling, HTTP 500 or 503,
    or a read timeout, in turn, and each service's first request whatever the draw (a night calls STS twice).
    Seeded, thread-safe; counts what it did per service and fault."""

    share: float
    services: frozenset[str]
    seed: int = 12
    injected: Counter[str] = field(default_factory=Counter)
    passed: Counter[str] = field(default_factory=Counter)
    _random: random.Random = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def __call__(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        service = event_name.split(".")[1]
        if service not in self.services:
            return None
        with self._lock:
            first = service not in self.passed and not any(k.startswith(f"{service}:") for k in self.injected)
            hit = self._random.random() < self.share or (first and self.share > 0)  # every service meets the storm
            kind = self._random.choice(("throttled", "throttled", "500", "503", "timeout")) if hit else ""
            (self.injected if hit else self.passed)[f"{service}:{kind}" if hit else service] += 1
        if kind == "throttled":
            return throttled(service, request.url, request.headers)
        if kind in ("500", "503"):
            return server_error(request.url, int(kind))
        if kind == "timeout":
            raise ReadTimeoutError(endpoint_url=request.url)
        return None

    @property
    def injected_share(self) -> float:
        """The share of requests (to the storm's services) answered with a fault."""
        hits = sum(self.injected.values())
        return hits / max(1, hits + sum(self.passed.values()))
