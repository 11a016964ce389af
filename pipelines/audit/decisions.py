"""A person's decision about quarantined data, carried out and recorded in `pipeline_runs`."""

from __future__ import annotations

from datetime import UTC, datetime

from pipelines.audit.quarantine import Quarantined, drop, find, release
from pipelines.aws import Session
from pipelines.config import Config
from pipelines.lake.runs import FAILED, PUBLISHED, RunRecord, write_run_records
from pipelines.lake.staging import Switched


def release_quarantined(
    session: Session, config: Config, table: str, dt: str | None, run_id: str | None, by: str, reason: str, force: bool = False
) -> Switched:
    """Publish the quarantined partition and record who released it and why."""
    item = find(session, config.lake, table, dt, run_id)
    started = _now()
    switched = release(session, config.lake, item, force=force)
    _record(session, config, item, PUBLISHED, f"released from quarantine by {by}: {reason}", started)
    return switched


def drop_quarantined(
    session: Session, config: Config, table: str, dt: str | None, run_id: str | None, by: str, reason: str
) -> Quarantined:
    """Delete the quarantined partition and record who dropped it and why."""
    item = find(session, config.lake, table, dt, run_id)
    started = _now()
    drop(session, item)
    # pipeline_runs' statuses are published, quarantined and failed: a dropped load failed for good.
    _record(session, config, item, FAILED, f"dropped from quarantine by {by}: {reason}", started)
    return item


def _record(session: Session, config: Config, item: Quarantined, status: str, message: str, started: datetime) -> None:
    dt = item.dt or started.date().isoformat()
    record = RunRecord(item.run_id, dt, item.table, item.rows, status, started, _now(), item.failed, message)
    write_run_records(session, config.lake, [record], name=f"{item.run_id}-{status}-{started:%Y%m%dT%H%M%S%f}")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
