"""One night of the pipeline: extract every source, stage, audit, publish, record the run."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.compute as pc
from botocore.exceptions import BotoCoreError, ClientError

from pipelines.aws import ApiCalls, Session, lake_session
from pipelines.config import Config
from pipelines.errors import PipelineError
from pipelines.sources.cloudwatch_metrics.decode import install_fast_decoder
from pipelines.sources.cloudwatch_metrics.discovery import iter_metric_series
from pipelines.sources.cloudwatch_metrics.fetch import iter_metric_data
from pipelines.sources.cloudwatch_metrics.plan import plan_queries
from pipelines.windows import Window, night_window
from pipelines.lake import catalog
from pipelines.sources.cloudwatch_metrics.table import cloudwatch_metrics_table, write_parquet_bytes
from pipelines.lake.staging import Published, StagedPartition, Stager, append_log
from pipelines.sources.landing import Lander, Landing, source_file_name
from pipelines.lake.runs import FAILED, PUBLISHED, QUARANTINED, RunRecord, write_run_records
from pipelines.lake.schemas import CLOUDWATCH_METRICS, ENDPOINTS, SOURCE_REJECTIONS, TABLES
from pipelines.logs import get_logger
from pipelines.audit.docs import publish_data_docs
from pipelines.audit.gate import GateOutcome, audit_and_publish, emit_metrics

log = get_logger(__name__)


@dataclass(frozen=True)
class SourceResult:
    """How one account x region went: what was read, or why it failed."""

    account_id: str
    region: str
    series: int = 0
    queries: int = 0
    datapoints: int = 0
    error: str | None = None

    @property
    def file_name(self) -> str:
        return source_file_name(self.account_id, self.region)


@dataclass(frozen=True)
class NightResult:
    night: str
    run_id: str
    sources: list[SourceResult]
    published: list[Published]
    records: list[RunRecord]
    api_calls: dict[str, int] = field(default_factory=dict)
    cloudwatch_cost_usd: float = 0.0
    outcomes: list[GateOutcome] = field(default_factory=list)
    landings: list[Landing] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        sources_ok = all(s.error is None for s in self.sources) and not any(l.errors for l in self.landings)
        return sources_ok and all(r.status == PUBLISHED for r in self.records)

    @property
    def quarantined(self) -> list[GateOutcome]:
        return [o for o in self.outcomes if o.quarantined]


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def prepare_lake(session: Session, config: Config) -> None:
    """Database and tables exist with the contract's columns (idempotent)."""
    catalog.ensure_database(session, config.lake)
    for spec in TABLES.values():
        catalog.ensure_table(session, config.lake, spec)


def default_landers(monitor_progress: Callable[[int, int], None] | None = None) -> tuple[Lander, ...]:
    """Every source besides CloudWatch metrics, in the order a night lands them.

    `monitor_progress(done, total)` hears about each Model Monitor report fetched: a night can
    hold thousands of small objects, and a person watching wants to see them go by.
    """
    from pipelines.sources.business_kpis.landing import land_business_kpis
    from pipelines.sources.endpoint_models.landing import land_endpoint_models
    from pipelines.sources.endpoint_log_patterns.landing import land_endpoint_log_patterns
    from pipelines.sources.model_monitor.landing import land_model_monitor

    def land_monitor_reports(session: Session, config: Config, night: date, run_id: str) -> Landing:
        return land_model_monitor(session, config, night, run_id, progress=monitor_progress)

    return (land_monitor_reports, land_business_kpis, land_endpoint_models, land_endpoint_log_patterns)


def run_night(
    config: Config,
    night: date,
    *,
    session: Session | None = None,
    lookback_days: int | None = None,
    run_id: str | None = None,
    on_source: Callable[[SourceResult], None] | None = None,
    landers: Sequence[Lander] | None = None,
) -> NightResult:
    """Land night `night` (and the lookback days before it) for every source."""
    session = session or lake_session(config.lake.region, config.endpoint_url, ApiCalls())
    run_id = run_id or new_run_id()
    started = _now()
    lookback = config.cloudwatch.lookback_days if lookback_days is None else lookback_days
    window = night_window(night, lookback)
    prepare_lake(session, config)
    calls_before, cost_before = sum(session.calls.snapshot().values()), session.calls.cloudwatch_cost_usd()

    results, staged = _land_cloudwatch(session, config, window, run_id, on_source)
    api_calls = sum(session.calls.snapshot().values()) - calls_before
    cost = session.calls.cloudwatch_cost_usd() - cost_before
    source_errors = "; ".join(f"{r.account_id}/{r.region}: {r.error}" for r in results if r.error) or None
    errors = {CLOUDWATCH_METRICS.name: source_errors}
    staged.append(_stage_endpoints(session, config, run_id))
    landings = [_land_other(lander, session, config, night, run_id) for lander in (default_landers() if landers is None else landers)]
    for landing in landings:
        staged += landing.staged
        errors.update({p.table: "; ".join(landing.errors) or None for p in landing.staged})
    outcomes = [audit_and_publish(session, config, one, night.isoformat()) for one in staged]
    _after_publish(session, config, night, run_id, landings, outcomes)
    view_error = _apply_views(session, config, run_id)

    records = [_record(o, night, started, errors.get(o.staged.table), api_calls, cost) for o in outcomes]
    if not any(o.staged.table == CLOUDWATCH_METRICS.name for o in outcomes):
        records += [RunRecord(run_id, dt, CLOUDWATCH_METRICS.name, 0, FAILED, started, _now(), [], source_errors, api_calls, cost)
                    for dt in window.days]  # fmt: skip
    records += [RunRecord(run_id, night.isoformat(), l.source, 0, FAILED, started, _now(), [], "; ".join(l.errors))
                for l in landings if l.errors and not l.staged]  # fmt: skip
    if view_error:
        records.append(RunRecord(run_id, night.isoformat(), "views", 0, FAILED, started, _now(), [], view_error))
    write_run_records(session, config.lake, records)
    result = NightResult(night.isoformat(), run_id, results, [o.published for o in outcomes if o.published], records,
                         session.calls.snapshot(), session.calls.cloudwatch_cost_usd(), outcomes, landings)  # fmt: skip
    log.info("night", night=result.night, run_id=run_id, ok=result.ok, api_calls=api_calls,
             cloudwatch_cost_usd=round(cost, 6), partitions={f"{o.staged.table}/{o.staged.dt}": o.status for o in outcomes})  # fmt: skip
    return result


def _land_cloudwatch(
    session: Session, config: Config, window: Window, run_id: str, on_source: Callable[[SourceResult], None] | None
) -> tuple[list[SourceResult], list[StagedPartition]]:
    """Every account x region's metrics, staged one file per source; failed sources keep their old files."""
    stager = Stager(session, config.lake, CLOUDWATCH_METRICS, run_id, encode=write_parquet_bytes)
    results = []
    for source in config.sources:
        for region in source.regions:
            result = _land_source(session, config, source.account_id, source.role_arn, region, window, stager)
            log.info("source", run_id=run_id, **vars(result))
            results.append(result)
            if on_source:
                on_source(result)
    failed = [r.file_name for r in results if r.error]
    if len(failed) == len(results):  # with every source down there is nothing new to publish
        return results, []
    for dt in window.days:
        stager.carry_over(dt, failed)
    return results, stager.staged()


def _apply_views(session: Session, config: Config, run_id: str) -> str | None:
    """The views follow every publish; one that fails is the night's failure, the data stays published."""
    from pipelines.publish.apply_views import apply_views
    from pipelines.publish.views import ViewError

    try:
        changes = apply_views(session, config)
    except ViewError as error:
        log.error("views", run_id=run_id, error=str(error))
        return str(error)
    log.info("views", run_id=run_id, **{c.name: c.action for c in changes})
    return None


def _land_other(lander: Lander, session: Session, config: Config, night: date, run_id: str) -> Landing:
    """One more source; a failure of the whole source is reported, never the end of the night."""
    name = getattr(lander, "__name__", "source").removeprefix("land_")
    try:
        landing = lander(session, config, night, run_id)
    except (PipelineError, ClientError, BotoCoreError) as error:
        landing = Landing(source=name, errors=[f"{type(error).__name__}: {error}"])
    log.info("landing", run_id=run_id, source=landing.source, partitions=len(landing.staged),
             rejected=len(landing.rejections), errors=landing.errors, counts=landing.counts)  # fmt: skip
    return landing


def _after_publish(
    session: Session, config: Config, night: date, run_id: str, landings: list[Landing], outcomes: list[GateOutcome]
) -> None:
    """What follows the switch: rejected objects recorded, KPI drops archived, metrics and docs."""
    rejections = [row for landing in landings for row in landing.rejections]
    if rejections:
        table = pa.Table.from_pylist(rejections, schema=SOURCE_REJECTIONS.schema)
        append_log(session, config.lake, SOURCE_REJECTIONS, night.isoformat(), f"{run_id}-rejections", table)
    if any(l.source == "business_kpis" for l in landings):
        from pipelines.sources.business_kpis.landing import finish_business_kpis

        finish_business_kpis(session, config, night)
    emit_metrics(session, config, outcomes)
    if config.validation.data_docs:
        docs = publish_data_docs(session, [o.report for o in outcomes], f"{config.validation.data_docs.rstrip('/')}/{night}/")
        log.info("data_docs", night=night.isoformat(), index=docs)


def _record(
    outcome: GateOutcome, night: date, started: datetime, source_errors: str | None, api_calls: int, cost: float
) -> RunRecord:
    """The pipeline_runs row of one audited partition: a failed source makes it `failed` even when published."""
    staged, report = outcome.staged, outcome.report
    status = QUARANTINED if outcome.quarantined else (FAILED if source_errors else PUBLISHED)
    message = report.summary() if outcome.quarantined else source_errors
    dt = staged.dt or night.isoformat()  # an unpartitioned table's load belongs to the night that made it
    return RunRecord(staged.run_id, dt, staged.table, staged.rows, status, started, _now(), report.failed_names(),
                     message, api_calls if staged.table == CLOUDWATCH_METRICS.name else None,
                     cost if staged.table == CLOUDWATCH_METRICS.name else None)  # fmt: skip


def _land_source(
    session: Session, config: Config, account_id: str, role_arn: str | None, region: str, window: Window, stager: Stager
) -> SourceResult:
    """Extract one account x region and stage its rows, one file per partition."""
    try:
        source_session = session.assume(role_arn, region) if role_arn else session.in_region(region)
        cloudwatch = source_session.client("cloudwatch", region_name=region)
        install_fast_decoder(cloudwatch)
        series = list(iter_metric_series(cloudwatch, account_id, region, config.cloudwatch.namespaces))
        queries = plan_queries(series, config.cloudwatch)
        table = cloudwatch_metrics_table(iter_metric_data(cloudwatch, queries, window), {q.id: q for q in queries})
    except (PipelineError, ClientError, BotoCoreError) as error:
        return SourceResult(account_id, region, error=f"{type(error).__name__}: {error}")
    for dt in window.days:
        stager.add(dt, source_file_name(account_id, region), _rows_of_day(table, dt))
    return SourceResult(account_id, region, len(series), len(queries), table.num_rows)


def _rows_of_day(table: pa.Table, dt: str) -> pa.Table:
    start = datetime.fromisoformat(dt)
    end = start + timedelta(days=1)
    ts = table.column("ts")
    mask = pc.and_(pc.greater_equal(ts, pa.scalar(start, ts.type)), pc.less(ts, pa.scalar(end, ts.type)))
    return table.filter(mask)


def _stage_endpoints(session: Session, config: Config, run_id: str) -> StagedPartition:
    rows = [{"endpoint_name": name, **e.model_dump()} for name, e in sorted(config.endpoints.items())]
    stager = Stager(session, config.lake, ENDPOINTS, run_id)
    stager.add(None, "part-config", pa.Table.from_pylist(rows, schema=ENDPOINTS.schema))
    return stager.staged()[0]


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)

