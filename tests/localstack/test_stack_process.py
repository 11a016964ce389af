"""The local stack served by a child process (what the demo runs against): its clock, its objects and its store are
driven from the caller's process, and a child that dies fails what waits on it instead of hanging it."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from pipelines.aws import lake_session
from pipelines.localstack.process import StackProcess
from pipelines.localstack.server import LocalStack

ACCOUNT = "111111111111"
BUCKET = f"sagemaker-us-east-1-{ACCOUNT}"
DAY = datetime(2026, 11, 20, tzinfo=UTC)


def _put_series(stack: LocalStack, endpoint: str, at: datetime) -> int:
    """A task: an hour of one series straight into the store of the stack it runs beside."""
    start = int(at.timestamp())
    stack.metric_store.put_series(
        ACCOUNT, "us-east-1", "AWS/SageMaker", "Invocations", {"EndpointName": endpoint}, None,
        np.arange(start, start + 3600, 60, dtype=np.int64), np.ones(60),
    )  # fmt: skip
    return os.getpid()


def _fail(stack: LocalStack, message: str) -> None:
    raise ValueError(message)


def _exit(stack: LocalStack) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.fixture(scope="module")
def child() -> Iterator[StackProcess]:
    with StackProcess(now=DAY + timedelta(hours=2)) as stack:
        yield stack


def test_tasks_run_in_the_stacks_process_and_its_clock_follows_the_callers(child: StackProcess) -> None:
    session = lake_session("us-east-1", child.endpoint_url)
    pid = child.submit(_put_series, "ep-old", DAY - timedelta(days=20)).result()
    child.submit(_put_series, "ep-new", DAY).result()
    assert pid != os.getpid()

    cloudwatch = session.assume(f"arn:aws:iam::{ACCOUNT}:role/R", "us-east-1").client("cloudwatch")

    def listed() -> list[str]:
        return sorted(m["Dimensions"][0]["Value"] for m in cloudwatch.list_metrics(Namespace="AWS/SageMaker")["Metrics"])

    assert child.clock.now() == DAY + timedelta(hours=2)
    assert listed() == ["ep-new"]  # ListMetrics: series active in the two weeks before the stack's now
    child.clock.set(DAY - timedelta(days=19))
    assert listed() == ["ep-new", "ep-old"]  # ep-old was active within the two weeks before this now
    child.clock.set(DAY + timedelta(hours=2))


def test_put_objects_lands_in_the_childs_s3_as_objects_a_client_put(child: StackProcess) -> None:
    owner = lake_session("us-east-1", child.endpoint_url).assume(f"arn:aws:iam::{ACCOUNT}:role/R", "us-east-1")
    s3 = owner.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    objects = {"monitoring/a/statistics.json": b'{"version": 0.0}', "monitoring/b/constraint_violations.json": b"{}" * 900}
    child.put_objects(ACCOUNT, BUCKET, objects)
    for key, body in objects.items():
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == body
    with pytest.raises(ValueError, match="s3://nowhere: no such bucket"):  # the child's error, raised here
        child.put_objects(ACCOUNT, "nowhere", {"k": b"v"})


def test_a_failing_task_fails_its_future_and_the_next_task_still_runs(child: StackProcess) -> None:
    failing = child.submit(_fail, "broken on purpose")
    after = child.submit(_put_series, "ep-after", DAY)
    with pytest.raises(ValueError, match="broken on purpose"):
        failing.result(timeout=30)
    assert after.result(timeout=30) != os.getpid()
    with pytest.raises(TypeError, match="positional"):
        child.submit(_put_series, "ep", at=DAY)


def _now(stack: LocalStack) -> datetime:
    return stack.clock.now()


def test_a_child_that_dies_fails_what_waits_on_it_and_stops_cleanly() -> None:
    stack = StackProcess(now=DAY)
    stack.clock.set(DAY + timedelta(days=3))  # before it starts: the child starts there
    url = stack.start()
    assert stack.submit(_now).result(timeout=30) == DAY + timedelta(days=3)
    assert url.startswith("http://127.0.0.1:")
    dying, queued = stack.submit(_exit), stack.submit(_put_series, "ep", DAY)
    for future in (dying, queued):
        with pytest.raises(RuntimeError, match=r"the local stack's process ended \(exit code -9\) before answering"):
            future.result(timeout=30)
    with pytest.raises(RuntimeError, match=r"process ended \(exit code -9\)"):  # not a future that never settles
        stack.submit(_put_series, "ep", DAY)
    stack.stop()
    assert not stack.running
    with pytest.raises(RuntimeError, match="not running"):
        stack.submit(_put_series, "ep", DAY)
