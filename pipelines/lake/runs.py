"""`pipeline_runs`: an append-only log of every table load, one row per table and partition."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

import pyarrow as pa

from pipelines.aws import Session
from pipelines.config import LakeConfig
from pipelines.lake.log_tables import append_log, read_log, read_logs
from pipelines.lake.schemas import PIPELINE_RUNS

PUBLISHED, QUARANTINED, FAILED = "published", "quarantined", "failed"


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    dt: str
    table_name: str
    rows: int
    status: str
    started_at: datetime
    finished_at: datetime
    failed_expectations: list[str] = field(default_factory=list)
    message: str | None = None
    api_calls: int | None = None
    cost_usd: float | None = None


def write_run_records(session: Session, lake: LakeConfig, records: list[RunRecord], name: str | None = None) -> None:
    """Append the records to the log, one object per run (or `name`) and partition."""
    by_dt: dict[str, list[RunRecord]] = {}
    for record in records:
        by_dt.setdefault(record.dt, []).append(record)
    for dt, group in sorted(by_dt.items()):
        rows = [{k: v for k, v in asdict(r).items() if k != "dt"} for r in group]
        append_log(
            session, lake, PIPELINE_RUNS, dt, name or group[0].run_id, pa.Table.from_pylist(rows, schema=PIPELINE_RUNS.schema)
        )


def read_run_records(session: Session, lake: LakeConfig, dt: str) -> pa.Table:
    """Every record of partition `dt`, oldest run first."""
    return read_log(session, lake, PIPELINE_RUNS, dt).sort_by("started_at")


def run_records_by_night(session: Session, lake: LakeConfig, dts: list[str]) -> dict[str, pa.Table]:
    """`read_run_records` of several partitions, their objects listed at once (`read_logs`)."""
    return {dt: table.sort_by("started_at") for dt, table in read_logs(session, lake, PIPELINE_RUNS, dts).items()}


def latest_status(session: Session, lake: LakeConfig, dt: str, table_name: str) -> str | None:
    """The status of the newest load of `table_name` into `dt` (None: never loaded)."""
    records = read_run_records(session, lake, dt).to_pylist()
    matching = [r for r in records if r["table_name"] == table_name]
    return matching[-1]["status"] if matching else None
