"""Backfill: land a range of nights, resumably, with a progress bar; one process, or nights as concurrent workers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import date, timedelta

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from pipelines.aws import Session
from pipelines.config import Config
from pipelines.lake.catalog import ensure_lake
from pipelines.lake.runs import PUBLISHED, latest_status
from pipelines.lake.schemas import CLOUDWATCH_METRICS
from pipelines.nightly import NightResult, run_night
from pipelines.query.engine import QueryEngine


@dataclass(frozen=True)
class NightRun:
    """A night landed elsewhere (a worker process, a job run): here only whether all of it was published is known."""

    night: str
    ok: bool
    detail: str = ""


# Lands one night elsewhere, with the backfill's own-day settings, and says how it went (it blocks until then).
NightRunner = Callable[[date], NightRun]


@dataclass(frozen=True)
class BackfillResult:
    nights: list[NightResult | NightRun]
    skipped: list[str]

    @property
    def ok(self) -> bool:
        return all(n.ok for n in self.nights)

    @property
    def failed(self) -> list[str]:
        return [n.night for n in self.nights if not n.ok]


def iter_nights(start: date, end: date) -> Iterator[date]:
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)


def backfill_config(config: Config) -> Config:
    """A backfilled night reads only its own day (no lookback): the range itself covers late data."""
    return config.model_copy(update={"cloudwatch": config.cloudwatch.model_copy(update={"lookback_days": 0})})


def run_backfill(
    config: Config,
    start: date,
    end: date,
    *,
    session: Session,
    engine: QueryEngine,
    force: bool = False,
    show_progress: bool = True,
    parallel: int = 1,
    runner: NightRunner | None = None,
) -> BackfillResult:
    """Land nights start..end; a night already published is skipped unless `force`.

    Each night reads only its own day (no lookback), and every partition is written once. An
    interrupted backfill resumes where it stopped. With `runner` and `parallel` > 1 the nights
    land elsewhere, at most `parallel` at once (each a run of its own, idempotent): the first one
    alone, because it also takes the KPI inbox's drops, which belong to no night, so the
    concurrent ones find nothing there to race for.
    """
    if parallel < 1:
        raise ValueError(f"parallel must be at least 1, not {parallel}")
    ensure_lake(session, config.lake)
    own_day = backfill_config(config)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    nights = list(iter_nights(start, end))
    with Progress(*columns, disable=not show_progress, transient=False) as progress:
        task = progress.add_task("backfill", total=len(nights))
        todo, skipped = [], []
        for night in nights:
            if not force and latest_status(session, config.lake, night.isoformat(), CLOUDWATCH_METRICS.name) == PUBLISHED:
                skipped.append(night.isoformat())
                progress.advance(task)
            else:
                todo.append(night)
        if runner is not None and parallel > 1:
            landed = _elsewhere(todo, runner, parallel, progress, task)
        else:
            landed = []
            for night in todo:
                progress.update(task, description=f"night {night}")
                landed.append(run_night(own_day, night, session=session, engine=engine))
                progress.advance(task)
    return BackfillResult(landed, skipped)


def _elsewhere(
    todo: list[date], runner: NightRunner, parallel: int, progress: Progress, task: TaskID
) -> list[NightResult | NightRun]:
    """The nights through `runner`, the first alone, then at most `parallel` at once; in night order."""
    runs: dict[date, NightRun] = {}
    for batch, width in ((todo[:1], 1), (todo[1:], parallel)):
        with ThreadPoolExecutor(max_workers=width) as pool:
            futures = {pool.submit(runner, night): night for night in batch}
            for future in as_completed(futures):
                runs[futures[future]] = future.result()
                progress.update(task, description=f"night {futures[future]}")
                progress.advance(task)
    return [runs[night] for night in todo]
