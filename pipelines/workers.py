"""Worker processes for a night's shards or a backfill's nights: at most N at once, each with a deadline."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from pipelines.logs import get_logger

log = get_logger(__name__)

DEADLINE_SECONDS = 6 * 3600  # a worker that runs longer than a night is stuck: it is stopped and counted failed


@dataclass(frozen=True)
class WorkerRun:
    """How one worker process ended: its exit code (None: stopped at the deadline) and the end of its output."""

    name: str
    returncode: int | None
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_worker(name: str, command: Sequence[str], *, deadline_seconds: float = DEADLINE_SECONDS) -> WorkerRun:
    """Run `command` to completion; its stdout is kept (the end of it), its stderr (JSON log lines) passes through."""
    try:
        done = subprocess.run(list(command), stdout=subprocess.PIPE, text=True, timeout=deadline_seconds, check=False)
    except subprocess.TimeoutExpired as expired:
        out = expired.stdout.decode() if isinstance(expired.stdout, bytes) else expired.stdout or ""
        log.error("worker_deadline", worker=name, seconds=deadline_seconds)
        return WorkerRun(name, None, out[-4000:])
    log.info("worker", worker=name, returncode=done.returncode)
    return WorkerRun(name, done.returncode, done.stdout[-4000:])


def run_workers(
    commands: Mapping[str, Sequence[str]],
    *,
    parallel: int,
    on_done: Callable[[WorkerRun], None] | None = None,
    deadline_seconds: float = DEADLINE_SECONDS,
) -> dict[str, WorkerRun]:
    """Every command as its own process, at most `parallel` at once; `on_done` hears of each as it ends."""
    if parallel < 1:
        raise ValueError(f"parallel must be at least 1, not {parallel}")
    runs: dict[str, WorkerRun] = {}
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        futures = [
            pool.submit(run_worker, name, command, deadline_seconds=deadline_seconds) for name, command in commands.items()
        ]
        for future in as_completed(futures):
            run = future.result()
            runs[run.name] = run
            if on_done is not None:
                on_done(run)
    return {name: runs[name] for name in commands}
