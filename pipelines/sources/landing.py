"""The shape every source has: `land` stages its partitions for the audit (never switches them in), `finish` tidies up after."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from pipelines.aws import Session
from pipelines.config import Config
from pipelines.faults import unit_retries
from pipelines.lake.staging import StagedPartition


@dataclass(frozen=True)
class AccountRegionResult:
    """How one account x region went for a source: what it read (counts), or why it failed."""

    account_id: str
    region: str
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class Landing:
    """One source's night: partitions staged (not yet audited or switched in), rejected objects, errors.

    `rejections` are rows of the `source_rejections` table (an object that could not be read
    at all); `errors` are failures of a whole account/region or prefix, reported by the run.
    `days` are the partitions the source meant to write (its FAILED records when nothing staged;
    empty: the night's); `accounts` says how each account x region went, where the source reads
    them one by one.
    """

    source: str
    staged: list[StagedPartition] = field(default_factory=list)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    days: list[str] = field(default_factory=list)
    accounts: list[AccountRegionResult] = field(default_factory=list)


class Lander(Protocol):
    """A source's night. `land` extracts, builds its tables and stages them; `finish` runs once the
    audit has switched in (or held back) what was staged, and decides from what readers see then."""

    @property
    def name(self) -> str: ...

    def land(self, session: Session, config: Config, night: date, run_id: str) -> Landing: ...

    def finish(self, session: Session, config: Config, night: date) -> None: ...


LandNight = Callable[[Session, Config, date, str], Landing]
FinishNight = Callable[[Session, Config, date], object]


@dataclass(frozen=True)
class SourceLander:
    """A Lander made of a source's two functions (most sources have nothing to finish)."""

    name: str
    land_night: LandNight
    finish_night: FinishNight | None = None
    # Landing again from the start after a retriable failure (a staging write, a carry-over) stages the same files
    # under the same run: true for every source that only reads its inputs; the KPI inbox moves files, so not there.
    rerunnable: bool = True

    def land(self, session: Session, config: Config, night: date, run_id: str) -> Landing:
        if not self.rerunnable:
            return self.land_night(session, config, night, run_id)
        for attempt in unit_retries(f"land {self.name}", local=session.endpoint_url is not None):
            with attempt:
                landing = self.land_night(session, config, night, run_id)
        return landing

    def finish(self, session: Session, config: Config, night: date) -> None:
        if self.finish_night is not None:
            self.finish_night(session, config, night)
