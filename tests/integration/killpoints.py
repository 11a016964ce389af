"""A night run in a process of its own that dies (os._exit, as a kill -9 would) at a chosen AWS call: the crash
happens at the AWS boundary, in the middle of the real code, with nothing of ours replaced."""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass
from datetime import date
from typing import Any

from pipelines.aws import lake_session
from pipelines.nightly import run_night
from pipelines.query.local import LocalLakeEngine
from pipelines.sources.cloudwatch_metrics.landing import LANDER as CLOUDWATCH_METRICS
from pipelines.sources.endpoints.landing import LANDER as ENDPOINTS
from tests.integration.lakehelpers import make_config

KILLED = 137
# Each night starts from a fork server that imported the pipeline and GE (whole: scipy.stats too) once (~2 s a
# process with spawn); the server is single-threaded when it forks, unlike this process with its stack's threads.
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload([__name__, "great_expectations"])
LANDERS = (CLOUDWATCH_METRICS, ENDPOINTS)  # two partitions: one switch, then another


@dataclass(frozen=True)
class KillPoint:
    """Die when operation `event` (botocore's `before-parameter-build.<service>.<Operation>`) is called with a
    parameter at `path` (keys into the API parameters) containing `value`."""

    event: str
    path: tuple[str, ...]
    value: str

    def matches(self, params: dict[str, Any]) -> bool:
        found: Any = params
        for key in self.path:
            found = found.get(key) if isinstance(found, dict) else None
        return found is not None and self.value in str(found)


def _night(endpoint_url: str, cloudwatch: dict[str, Any], night: date, run_id: str, point: KillPoint) -> None:
    config = make_config(endpoint_url, **cloudwatch)
    session = lake_session(config.lake.region, config.endpoint_url)

    def die(params: dict[str, Any], **_: Any) -> None:
        if point.matches(params):
            os._exit(KILLED)

    session.register_hook(point.event, die)
    run_night(config, night, session=session, engine=LocalLakeEngine(session, config.lake), run_id=run_id, landers=LANDERS)


def night_killed_at(endpoint_url: str, cloudwatch: dict[str, Any], night: date, run_id: str, point: KillPoint) -> int:
    """Run night `night` in a fresh process that dies at `point`; its exit code (KILLED when it died there)."""
    process = _CONTEXT.Process(target=_night, args=(endpoint_url, cloudwatch, night, run_id, point))
    process.start()
    process.join(timeout=300)
    if process.exitcode is None:  # it never reached the kill point: do not leave it running
        process.kill()
        process.join()
        return -1
    return process.exitcode
