"""What one source hands the night: staged partitions for the audit, and what it could not read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from pipelines.aws import Session
from pipelines.config import Config
from pipelines.lake.staging import StagedPartition


def source_file_name(account_id: str, region: str) -> str:
    """The file one account x region owns in each partition, so a failed source's old file can ride along."""
    return f"part-{account_id}-{region}"


@dataclass(frozen=True)
class Landing:
    """One source's night: partitions staged (not yet audited or published), rejected objects, errors.

    `rejections` are rows of the `source_rejections` table (an object that could not be read
    at all); `errors` are failures of a whole account/region or prefix, reported by the run.
    """

    source: str
    staged: list[StagedPartition] = field(default_factory=list)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


class Lander(Protocol):
    """A source's entry point for the night: extract, transform, stage; never publish."""

    def __call__(self, session: Session, config: Config, night: date, run_id: str) -> Landing: ...
