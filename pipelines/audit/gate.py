"""The audit of write-audit-publish: validate staged partitions, then publish or quarantine them."""

from __future__ import annotations

import statistics
import tempfile
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import awswrangler as wr
import pyarrow as pa

from pipelines.audit.engine import ValidationReport, validation_rows
from pipelines.audit.objects import restage_without, split_offenders
from pipelines.audit.quarantine import Quarantined, quarantine, quarantine_objects, sweep_unfinished
from pipelines.audit.screen import read_local, validate_files
from pipelines.audit.suites import Suite, load_suite
from pipelines.aws import Session
from pipelines.config import Config
from pipelines.errors import FatalError
from pipelines.lake import catalog
from pipelines.lake.log_tables import append_log
from pipelines.lake.paths import split_s3_uri
from pipelines.lake.runs import PUBLISHED, run_records_by_night
from pipelines.lake.schemas import AUDITED, CLOUDWATCH_METRICS, TABLES, VALIDATION_RESULTS
from pipelines.lake.staging import StagedPartition, Switched, sweep_abandoned, switch


@dataclass(frozen=True)
class GateOutcome:
    """What the audit decided for one staged partition."""

    staged: StagedPartition
    report: ValidationReport
    switched: Switched | None
    quarantined: Quarantined | None

    @property
    def status(self) -> str:
        if self.switched and self.quarantined:
            return f"published, {len(self.quarantined.objects)} object(s) held back"
        return "published" if self.switched else "quarantined"


def trailing_rows(session: Session, config: Config, table: str, dt: str, run_id: str = "") -> list[int]:
    """Rows published for `table` on each of the trailing nights before `dt` (newest record per night)."""
    day = date.fromisoformat(dt)
    nights = [(day - timedelta(days=back)).isoformat() for back in range(1, config.validation.trailing_nights + 1)]
    published = _published_rows(session, config, nights, run_id)
    return [published[night][table] for night in nights if table in published[night]]


# (run id, the session's calls and endpoint, bucket, prefix, night) -> rows of each table's newest published load that
# night. A run audits a dozen partitions against the same trailing nights: their records are read once per run, not
# once per partition, and the nights not yet read are listed together (a night's two days: 2 listings, not 14).
_TRAILING: OrderedDict[tuple[Any, ...], dict[str, int]] = OrderedDict()
_TRAILING_KEPT = 64


def _published_rows(session: Session, config: Config, nights: list[str], run_id: str) -> dict[str, dict[str, int]]:
    def key(night: str) -> tuple[Any, ...]:
        return (run_id, id(session.calls), session.endpoint_url, config.lake.bucket, config.lake.prefix, night)

    found = {night: _TRAILING[key(night)] for night in nights if run_id and key(night) in _TRAILING}
    for night, records in run_records_by_night(session, config.lake, [n for n in nights if n not in found]).items():
        found[night] = {r["table_name"]: int(r["rows"]) for r in records.to_pylist() if r["status"] == PUBLISHED}
        if run_id:
            _TRAILING[key(night)] = found[night]
            while len(_TRAILING) > _TRAILING_KEPT:
                _TRAILING.popitem(last=False)
    return found


def parameters(session: Session, config: Config, table: str, dt: str | None, run_id: str = "") -> dict[str, Any]:
    """The run-time values a suite refers to: the night's window, the row-count band, the fleet."""
    params: dict[str, Any] = {
        "expected_endpoints": sorted(config.endpoints),
        "max_utilization_percent": 100.0 * config.validation.max_vcpus,
        "min_rows": None,
        "max_rows": None,
        "window_start": None,
        "window_end": None,
    }
    if dt is None:
        return params
    start = datetime.fromisoformat(dt)
    params["window_start"], params["window_end"] = start, start + timedelta(days=1)
    history = trailing_rows(session, config, table, dt, run_id)
    if len(history) >= 3:  # fewer nights say too little about what is normal
        median = statistics.median(history)
        params["min_rows"] = int(median * config.validation.min_row_ratio)
        params["max_rows"] = int(median * config.validation.max_row_ratio) + 1
    return params


def audit(session: Session, config: Config, staged: StagedPartition, suite: Suite | None = None) -> ValidationReport:
    """Validate exactly what was written (read back from S3), not what we meant to write."""
    with local_copy(session, staged) as local:
        return _audited(session, config, staged, suite, local)[0]


class AuditCopyError(FatalError):
    """A staged file could not be copied to local disk for its audit."""


_DISK_HINT = "the audit needs local disk for a partition's files: free space there, or point TMPDIR elsewhere"


@dataclass(frozen=True)
class LocalCopy:
    """A staged partition's files downloaded for the audit, and a scratch directory beside them."""

    scratch: Path
    paths: list[Path]

    def table(self, schema: pa.Schema) -> pa.Table:
        """Every row, in memory: only for a partition that failed its audit (to find what to hold back)."""
        return read_local(self.paths, schema)


# Staged files downloaded at once for an audit: a night's CloudWatch partition is one file per account x region.
COPY_THREADS = 4


@contextmanager
def local_copy(session: Session, staged: StagedPartition) -> Iterator[LocalCopy]:
    """The staged files on local disk while the audit runs: DuckDB scans them there, and memory holds none of them.
    Downloaded side by side (a 10 M-point night's four files: 0.5 s one after another)."""
    s3 = session.client("s3")
    try:
        folder = tempfile.TemporaryDirectory(prefix="mlmon-audit-")
    except OSError as error:
        raise AuditCopyError(f"cannot make a folder for the audit: {error}; {_DISK_HINT}") from error
    with folder as scratch:
        paths = [Path(scratch) / f"{i:05d}.parquet" for i in range(len(staged.files))]

        def download(uri: str, path: Path) -> None:
            bucket, key = split_s3_uri(uri)
            body = s3.get_object(Bucket=bucket, Key=key)["Body"]
            try:
                with path.open("wb") as out:
                    for chunk in body.iter_chunks(1 << 20):
                        out.write(chunk)
            except OSError as error:  # a full or unwritable temporary disk: this partition is not published tonight
                raise AuditCopyError(f"cannot copy {uri} to {path} for its audit: {error}; {_DISK_HINT}") from error

        with ThreadPoolExecutor(max(1, min(COPY_THREADS, len(paths))), thread_name_prefix="audit-copy") as pool:
            for done in [pool.submit(download, uri, path) for uri, path in zip(staged.files, paths, strict=True)]:
                done.result()  # the first failure, in file order
        yield LocalCopy(Path(scratch), paths)


def _audited(
    session: Session, config: Config, staged: StagedPartition, suite: Suite | None, local: LocalCopy
) -> tuple[ValidationReport, Suite, dict[str, Any]]:
    suite = suite or load_suite(staged.table)
    params = parameters(session, config, staged.table, staged.dt, staged.run_id)
    schema = TABLES[staged.table].schema
    report = validate_files(local.paths, schema, suite, params, local.scratch, dt=staged.dt, run_id=staged.run_id)
    return report, suite, params


def audit_and_switch(
    session: Session, config: Config, staged: StagedPartition, night: str, suite: Suite | None = None
) -> GateOutcome:
    """Publish the partition if no critical expectation failed; else hold back just the objects that fail (the rest
    publishes, pipelines/audit/objects.py), or, when the failure concerns the partition as a whole, all of it."""
    with local_copy(session, staged) as local:
        report, suite, params = _audited(session, config, staged, suite, local)
        record_results(session, config, report, night)  # what the staged partition showed, culprits included
        if report.passed:
            switched = switch(session, config.lake, staged)
            sweep_unfinished(session, config.lake, staged)
            return GateOutcome(staged, report, switched, None)
        data = local.table(TABLES[staged.table].schema)
    split = split_offenders(data, suite, params, dt=staged.dt, run_id=staged.run_id)
    if split is not None:
        verdict = {**split.held_report.to_dict(), "failed": split.held_report.failed_names()}
        held = quarantine_objects(session, config.lake, staged, split.held, split.objects, verdict)
        kept = restage_without(session, staged, split.objects, TABLES[staged.table].schema)
        switched = switch(session, config.lake, kept)
        sweep_unfinished(session, config.lake, staged)
        return GateOutcome(kept, split.kept_report, switched, held)
    verdict = {**report.to_dict(), "failed": report.failed_names()}
    held_back = quarantine(session, config.lake, staged, verdict, report.summary())
    sweep_abandoned(session, staged, config.lake)  # what dead runs staged here; a switch does this too
    sweep_unfinished(session, config.lake, staged)
    return GateOutcome(staged, report, None, held_back)


def record_results(session: Session, config: Config, report: ValidationReport, night: str) -> None:
    """Every expectation's outcome goes to `validation_results` (partition: the data's day, else
    the night), so data quality can be charted."""
    rows = validation_rows(report)
    dt = report.dt or night
    name = f"{report.run_id}-{report.table}"
    append_log(session, config.lake, VALIDATION_RESULTS, dt, name, pa.Table.from_pylist(rows, schema=VALIDATION_RESULTS.schema))


def emit_metrics(session: Session, config: Config, outcomes: list[GateOutcome]) -> None:
    """One datapoint per table and night, zeros included, so an alarm on them can page someone."""
    data = []
    for table in sorted({o.staged.table for o in outcomes} | {CLOUDWATCH_METRICS.name}):
        mine = [o for o in outcomes if o.staged.table == table]
        quarantined = sum(1 for o in mine if o.quarantined)
        failed = sum(len(o.report.failed_critical) + len(o.report.failed_warnings) for o in mine)
        dims = [{"Name": "Table", "Value": table}]
        data += [
            {"MetricName": "QuarantinedPartitions", "Dimensions": dims, "Value": float(quarantined), "Unit": "Count"},
            {"MetricName": "FailedExpectations", "Dimensions": dims, "Value": float(failed), "Unit": "Count"},
        ]
    session.client("cloudwatch").put_metric_data(Namespace=config.validation.metrics_namespace, MetricData=data)


def revalidate(session: Session, config: Config, dt: str, run_id: str) -> list[ValidationReport]:
    """Run the suites again on what readers see now for `dt` (and the unpartitioned tables)."""
    reports = []
    for spec in AUDITED:
        if spec.partitioned:
            location = catalog.partition_location(session, config.lake, spec.name, dt)
        else:
            location = catalog.table_location(session, config.lake, spec.name)
        if location is None:
            continue
        files = tuple(wr.s3.list_objects(location.rstrip("/") + "/", suffix=".parquet", boto3_session=session))
        staged = StagedPartition(spec.name, dt if spec.partitioned else None, run_id, location, files, 0)
        report = audit(session, config, staged)
        record_results(session, config, report, dt)
        reports.append(report)
    return reports
