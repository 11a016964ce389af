"""The local stack in a process of its own, for a caller that wants its own core: the demo.

The emulator spends ~2.5 ms of CPU a request (moto's handlers, waitress, serialising): about 30 % of a demo's CPU. In
the demo's process it held the interpreter lock against the pipeline, and a 2-core laptop ran the demo on ~1.1 cores;
in a process of its own it answers from the other core, as AWS answers from elsewhere.

What the caller does to the stack's state (its clock, objects written as a service writes them, metrics seeded into its
store) runs as tasks in that process, one at a time and in the order submitted, between the requests it serves.

The child is a plain `python -m pipelines.localstack.process`, its tasks and results pickled over two pipes: not a
multiprocessing pool, whose spawned children import the caller's main module again (a script without a
`__main__` guard would run twice) and whose forked ones would copy the caller's threads' locks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from datetime import datetime
from multiprocessing.connection import Connection
from types import TracebackType
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from pipelines.localstack.settings import StackClock

if TYPE_CHECKING:
    from pipelines.localstack.server import LocalStack

P = ParamSpec("P")
R = TypeVar("R")
STOP_SECONDS = 30  # for the child to stop its stack once told to


def _set_clock(stack: LocalStack, moment: datetime | None) -> None:
    stack.clock.set(moment)


def _put_objects(stack: LocalStack, account_id: str, bucket: str, objects: Mapping[str, bytes]) -> None:
    stack.put_objects(account_id, bucket, objects)


class _Clock(StackClock):
    """The stack's clock as its caller sees it: a moment set here is set there before `set` returns."""

    def __init__(self, moment: datetime | None, stack: StackProcess) -> None:
        super().__init__(moment)
        self._stack = stack

    def set(self, moment: datetime | None) -> None:
        super().set(moment)
        if self._stack.running:
            self._stack.submit(_set_clock, moment).result()

    @property
    def pinned(self) -> datetime | None:
        """Where the clock stands, or None while it follows the wall clock: what the child starts with."""
        return self._moment


class StackProcess:
    """A `LocalStack` served by a child process; a context manager with the same `endpoint_url`, `clock` and
    `put_objects`, and `submit` for anything else done to the stack directly (a task gets the `LocalStack` first)."""

    def __init__(self, *, now: datetime | None = None) -> None:
        self.clock = _Clock(now, self)
        self._child: subprocess.Popen[bytes] | None = None
        self._tasks: Connection | None = None
        self._pending: deque[Future[Any]] = deque()
        self._lock = threading.Lock()
        self._reader: threading.Thread | None = None
        self._ended: str | None = None  # why tasks can no longer be answered, once the child has gone
        self._url: str | None = None

    @property
    def running(self) -> bool:
        return self._child is not None

    @property
    def endpoint_url(self) -> str:
        if self._url is None:
            raise RuntimeError("the local stack is not running: call start() first")
        return self._url

    def start(self) -> str:
        """Start the child and its stack (about a second: it imports moto) and return the endpoint URL."""
        if self._child is not None:
            return self.endpoint_url
        task_read, task_write = os.pipe()
        result_read, result_write = os.pipe()
        now = self.clock.pinned.isoformat() if self.clock.pinned else "-"
        try:
            self._child = subprocess.Popen(
                [sys.executable, "-m", __name__, str(task_read), str(result_write), now],
                pass_fds=(task_read, result_write),
            )
        except BaseException:
            os.close(task_write)
            os.close(result_read)
            raise
        finally:
            os.close(task_read)  # the child's ends: it holds its own copies
            os.close(result_write)
        self._tasks = Connection(task_write, readable=False)
        results = Connection(result_read, writable=False)
        started: Future[str] = Future()
        self._pending.append(started)
        self._reader = threading.Thread(target=self._read, args=(results,), name="local-stack-results", daemon=True)
        self._reader.start()
        try:
            self._url = started.result()
        except BaseException:
            self.stop()
            raise
        return self._url

    def submit(self, task: Callable[Concatenate[LocalStack, P], R], *args: P.args, **kwargs: P.kwargs) -> Future[R]:
        """Run `task(stack, *args)` in the stack's process after what was submitted before. `task` must be a module's
        own function and its arguments and result must pickle (they cross to the other process)."""
        if kwargs:
            raise TypeError("a stack task takes positional arguments only")
        future: Future[R] = Future()
        with self._lock:
            if self._tasks is None or self._ended:
                raise RuntimeError(self._ended or "the local stack is not running: call start() first")
            self._pending.append(future)
            try:
                self._tasks.send((task, args))
            except BaseException:
                self._pending.pop()
                raise
        return future

    def put_objects(self, account_id: str, bucket: str, objects: Mapping[str, bytes]) -> None:
        """`LocalStack.put_objects`, in the stack's process."""
        self.submit(_put_objects, account_id, bucket, dict(objects)).result()

    def _read(self, results: Connection) -> None:
        """Settle each pending task's future with its result, in order; when the child ends, fail what is left."""
        try:
            while True:
                try:
                    ok, value = results.recv()
                except (EOFError, OSError):
                    break
                with self._lock:
                    future = self._pending.popleft()
                future.set_result(value) if ok else future.set_exception(value)
        finally:
            results.close()
            code = self._child.wait() if self._child is not None else None
            with self._lock:
                self._ended = f"the local stack's process ended (exit code {code})"
                while self._pending:
                    self._pending.popleft().set_exception(RuntimeError(f"{self._ended} before answering"))

    def stop(self) -> None:
        """Tell the child to stop (it stops its stack and exits when its task pipe closes) and wait for it."""
        with self._lock:
            tasks, self._tasks = self._tasks, None
        if tasks is not None:
            tasks.close()
        if self._child is not None:
            try:
                self._child.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self._child.kill()
                self._child.wait()
        if self._reader is not None:
            self._reader.join()
        self._child, self._reader, self._url, self._ended = None, None, None, None

    def __enter__(self) -> StackProcess:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def _serve(task_fd: int, result_fd: int, now: datetime | None) -> None:
    """The child: a stack, then its caller's tasks one by one until the task pipe closes."""
    from pipelines.localstack.server import LocalStack

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the caller, which closes the pipe: then we stop
    tasks, results = Connection(task_fd, writable=False), Connection(result_fd, readable=False)
    with LocalStack(now=now) as stack:
        results.send((True, stack.endpoint_url))
        while True:
            try:
                task, args = tasks.recv()
            except EOFError:
                return
            try:
                answer = (True, task(stack, *args))
            except Exception as error:  # the caller's future raises it
                answer = (False, error)
            try:
                results.send(answer)
            except Exception as unpicklable:  # noqa: BLE001 - an answer that does not pickle still answers
                results.send((False, RuntimeError(f"{answer[1]!r} (and it could not be sent back: {unpicklable})")))


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]), None if sys.argv[3] == "-" else datetime.fromisoformat(sys.argv[3]))
