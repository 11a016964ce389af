"""Backfill: land a range of nights, resumably, with a progress bar."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from pipelines.aws import Session
from pipelines.config import Config
from pipelines.lake.catalog import ensure_lake
from pipelines.lake.runs import PUBLISHED, latest_status
from pipelines.lake.schemas import CLOUDWATCH_METRICS
from pipelines.nightly import NightResult, run_night
from pipelines.query.engine import QueryEngine


@dataclass(frozen=True)
class BackfillResult:
    nights: list[NightResult]
    skipped: list[str]

    @property
    def ok(self) -> bool:
        return all(n.ok for n in self.nights)


def iter_nights(start: date, end: date) -> Iterator[date]:
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)


def run_backfill(
    config: Config,
    start: date,
    end: date,
    *,
    session: Session,
    engine: QueryEngine,
    force: bool = False,
    show_progress: bool = True,
) -> BackfillResult:
    """Land nights start..end; a night already published is skipped unless `force`.

    Each night reads only its own day (no lookback): the range itself covers late data,
    and every partition is written once. An interrupted backfill resumes where it stopped.
    """
    ensure_lake(session, config.lake)
    own_day = config.model_copy(update={"cloudwatch": config.cloudwatch.model_copy(update={"lookback_days": 0})})
    nights, skipped = [], []
    todo = list(iter_nights(start, end))
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, disable=not show_progress, transient=False) as progress:
        task = progress.add_task("backfill", total=len(todo))
        for night in todo:
            progress.update(task, description=f"night {night}")
            if not force and latest_status(session, config.lake, night.isoformat(), CLOUDWATCH_METRICS.name) == PUBLISHED:
                skipped.append(night.isoformat())
            else:
                nights.append(run_night(own_day, night, session=session, engine=engine))
            progress.advance(task)
    return BackfillResult(nights, skipped)
