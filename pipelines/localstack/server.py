"""The local AWS stack: moto's server in-process, with CloudWatch metrics served from an indexed store.

moto's WSGI application is served by waitress, not by werkzeug's development server (moto's `ThreadedMotoServer`):
werkzeug closes the connection after every response and starts a thread per connection, so each call paid a TCP
handshake, a new thread and a 10 ms drain poll; waitress keeps botocore's pooled connections open and answers from a
pool of threads (~25 % less CPU per call, client and server together, measured in docs/local-stack.md).
"""

from __future__ import annotations

import logging
import signal
import threading
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from types import FrameType, TracebackType
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.s3.exceptions import MissingBucket
from moto.s3.models import s3_backends
from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import BaseWSGIServer, create_server

from pipelines.localstack import (
    cloudwatch_moto,
    dispatch_moto,
    logs_moto,
    models_moto,
    quicksight_moto,
    rpc_v2_cbor,
    sagemaker_moto,
    serialize_moto,
)
from pipelines.localstack.cloudwatch_store import MetricStore
from pipelines.localstack.settings import STACKS, StackClock, StackSettings

# CloudWatch (the indexed store); Logs (Insights: filter, stats by bin(), logGroupIdentifiers; PutLogEvents on
# the stack clock); SageMaker (UpdateEndpoint, instance types); QuickSight (datasets kept whole, described, updated);
# request dispatch (the service a host names, looked up once per host); botocore's models parsed into plain dicts;
# response serialising (each member's attribute names worked out once) and the action lookup.
_PATCHES = (
    dispatch_moto.PATCH,
    cloudwatch_moto.PATCH,
    logs_moto.PATCH,
    sagemaker_moto.PATCH,
    quicksight_moto.PATCH,
    models_moto.PATCH,
    serialize_moto.PATCH,
)
# Threads answering requests: more than the pipeline's widest pool (Model Monitor fetches, 16), so a slow call
# (a Logs Insights query, a big GetMetricData) never queues the others behind it.
SERVER_THREADS = 24


def _moto_application() -> Callable[[dict[str, Any], Any], Iterable[bytes]]:
    """moto's application, given the raw request target where it looks for it: moto matches routes against
    `RAW_URI` (an encoded slash in an S3 key or a QuickSight ARN stays encoded), which waitress names `REQUEST_URI`;
    CloudWatch's CBOR requests translated to the JSON moto speaks."""
    moto = DomainDispatcherApplication(create_backend_app)

    def application(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        environ.setdefault("RAW_URI", environ.get("REQUEST_URI", ""))
        return moto(environ, start_response)

    return rpc_v2_cbor.application(application)


class _RequestParser(HTTPRequestParser):
    """waitress 3.0.2 answers `Expect: 100-continue` on a request without a body with the 100 and then waits for a
    body forever (its `send_continue` marks the finished request unfinished); botocore sends the header with every
    S3 PutObject, an empty "folder" object included. Nothing to continue: no 100."""

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        if not self.chunked and self.content_length == 0:
            self.expect_continue = False


class _Channel(HTTPChannel):
    parser_class = _RequestParser


class _Server:
    """moto's application on waitress, in a daemon thread; `stop()` closes every connection and joins it.

    waitress drops request headers with an underscore in their name (werkzeug kept them for moto): S3 user
    metadata keys like `x-amz-meta-my_key` do not arrive; the pipeline writes no metadata."""

    def __init__(self, port: int) -> None:
        server = create_server(
            _moto_application(),
            host="127.0.0.1",
            port=port,
            threads=SERVER_THREADS,
            asyncore_use_poll=True,  # select() stops at 1,024 descriptors
            connection_limit=1000,
            ident=None,
        )
        assert isinstance(server, BaseWSGIServer)  # one address: never waitress's MultiSocketServer
        server.channel_class = _Channel
        self._server = server
        self.port = int(server.effective_port)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"local-stack-{self.port}", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            wasyncore.loop(timeout=1.0, map=self._server._map, use_poll=True, count=1)

    def stop(self) -> None:
        self._stopping.set()
        self._server.pull_trigger()  # wakes the poll now, not after its timeout
        self._thread.join()
        # Closed here, after the loop has let go of them: the trigger must stay open until it has been pulled.
        wasyncore.close_all(self._server._map)
        self._server.task_dispatcher.shutdown()


class LocalStack:
    """One emulator endpoint for every AWS service the pipeline uses; a context manager.

    moto's state (and so the metric store, which lives in moto's CloudWatch backends) is process-wide:
    two stacks in one process serve the same data, and `reset()` wipes it for both. Each has its own
    `clock` (`now`: where it starts; default the wall clock), which the rules AWS applies relative
    to now follow; move it with `clock.set(...)`.
    """

    def __init__(self, port: int = 0, *, now: datetime | None = None, recently_active_days: float | None = 14.0) -> None:
        self._requested_port = port
        self.clock = StackClock(now)
        self._settings = StackSettings(self.clock, recently_active_days)
        self._server: _Server | None = None
        self._port: int | None = None
        self.metric_store: MetricStore = cloudwatch_moto.moto_metric_store()

    @property
    def endpoint_url(self) -> str:
        if self._port is None:
            raise RuntimeError("the local stack is not running: call start() first")
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> str:
        """Serve on 127.0.0.1 (port 0: any free port) and return the endpoint URL; starting twice is a no-op."""
        if self._server is None:
            # "Task queue depth" warnings when the pipeline's pools burst are not the user's concern; errors still show.
            logging.getLogger("waitress.queue").setLevel(logging.ERROR)
            server = _Server(self._requested_port)
            self._server, self._port = server, server.port
            STACKS.register(self._port, self._settings)
            for patch in _PATCHES:
                patch.acquire(self._port)
        return self.endpoint_url

    def stop(self) -> None:
        if self._server is None:
            return
        server, port = self._server, self._port
        self._server, self._port = None, None
        if port is not None:
            STACKS.forget(port)
            for patch in _PATCHES:
                patch.release(port)
        server.stop()

    def put_objects(self, account_id: str, bucket: str, objects: Mapping[str, bytes]) -> None:
        """Write `objects` (key -> body) into `account_id`'s existing `bucket` inside the emulator, as a service
        writes into its own bucket (SageMaker its Model Monitor reports): the same keys and bytes a PutObject leaves,
        without a request each (2,227 reports of the demo took ~17 s through HTTP, signing and parsing)."""
        backend = s3_backends[account_id]["aws"]
        try:
            backend.get_bucket(bucket)
        except MissingBucket as error:
            raise ValueError(f"s3://{bucket}: no such bucket in the local stack; create it first") from error
        for key, body in objects.items():
            backend.put_object(bucket, key, body)

    def reset(self) -> None:
        """Wipe every service's state, metric store included (moto's `POST /moto-api/reset`)."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own loopback endpoint
            response.read()

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def serve(port: int = 0) -> None:
    """Run the stack until Ctrl-C or SIGTERM, announcing `endpoint: URL` on its own line for scripts to read."""
    stopping = threading.Event()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        with LocalStack(port) as stack:
            print(f"endpoint: {stack.endpoint_url}", flush=True)
            while not stopping.wait(0.5):  # a timed wait keeps Ctrl-C deliverable
                pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
