"""The local AWS stack: moto's server in-process, with CloudWatch metrics served from an indexed store."""

from __future__ import annotations

import logging
import signal
import threading
import urllib.request
from collections.abc import Mapping
from datetime import datetime
from types import FrameType, TracebackType

from moto.s3.exceptions import MissingBucket
from moto.s3.models import s3_backends
from moto.server import ThreadedMotoServer

from pipelines.localstack import cloudwatch_moto, dispatch_moto, logs_moto, quicksight_moto, sagemaker_moto
from pipelines.localstack.cloudwatch_store import MetricStore
from pipelines.localstack.settings import STACKS, StackClock, StackSettings

# CloudWatch (the indexed store); Logs (Insights: filter, stats by bin(), logGroupIdentifiers; PutLogEvents on
# the stack clock); SageMaker (UpdateEndpoint, instance types); QuickSight (datasets kept whole, described, updated);
# request dispatch (the service a host names, looked up once per host).
_PATCHES = (dispatch_moto.PATCH, cloudwatch_moto.PATCH, logs_moto.PATCH, sagemaker_moto.PATCH, quicksight_moto.PATCH)


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
        self._server: ThreadedMotoServer | None = None
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
            # One line per request drowns the pipeline's own logs; errors still show.
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=self._requested_port, verbose=False)
            server.start()
            self._server, self._port = server, server.get_host_and_port()[1]
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
