"""One night of the pipeline, orchestrated: every source lands (stages), the audit switches in or holds back, views, records."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
from botocore.exceptions import BotoCoreError, ClientError

from pipelines.audit.docs import write_data_docs
from pipelines.audit.engine import prepare_shared_validator
from pipelines.audit.gate import GateOutcome, audit_and_switch, emit_metrics
from pipelines.aws import Session
from pipelines.collector import settle
from pipelines.config import Config
from pipelines.errors import PipelineError
from pipelines.faults import unit_retries
from pipelines.lake.catalog import ensure_lake
from pipelines.lake.lock import night_lock
from pipelines.lake.log_tables import append_log
from pipelines.lake.runs import FAILED, PUBLISHED, QUARANTINED, RunRecord, write_run_records
from pipelines.lake.schemas import SOURCE_REJECTIONS
from pipelines.lake.staging import StagedPartition, Switched
from pipelines.lake.trash import empty_trash
from pipelines.logs import get_logger, run_context
from pipelines.publish.alarms.signals import emit_night_signals, night_signals
from pipelines.publish.apply_views import apply_views
from pipelines.publish.quicksight.assets import QUICKSIGHT_DIR
from pipelines.publish.quicksight.refresh import Ingestion, dataset_views, start_ingestions
from pipelines.publish.views import load_views
from pipelines.query.engine import QueryEngine
from pipelines.run_summary import write_summary
from pipelines.sources.business_kpis.landing import LANDER as BUSINESS_KPIS
from pipelines.sources.cloudwatch_metrics.landing import LANDER as CLOUDWATCH_METRICS
from pipelines.sources.endpoint_log_patterns.landing import LANDER as ENDPOINT_LOG_PATTERNS
from pipelines.sources.endpoint_models.landing import LANDER as ENDPOINT_MODELS
from pipelines.sources.endpoints.landing import LANDER as ENDPOINTS
from pipelines.sources.landing import Lander, Landing
from pipelines.sources.model_monitor.landing import model_monitor_lander

log = get_logger(__name__)

# The audit of one staged partition: (session, config, staged, night) -> what became of it.
Gate = Callable[[Session, Config, StagedPartition, str], GateOutcome]


@dataclass(frozen=True)
class NightResult:
    night: str
    run_id: str
    switched: list[Switched]
    records: list[RunRecord]
    api_calls: dict[str, int] = field(default_factory=dict)
    cloudwatch_cost_usd: float = 0.0
    outcomes: list[GateOutcome] = field(default_factory=list)
    landings: list[Landing] = field(default_factory=list)
    ingestions: list[Ingestion] = field(default_factory=list)  # SPICE imports started for what changed

    @property
    def ok(self) -> bool:
        published = all(r.status == PUBLISHED for r in self.records)
        return published and not self.quarantined and not any(landing.errors for landing in self.landings)

    @property
    def quarantined(self) -> list[GateOutcome]:
        return [o for o in self.outcomes if o.quarantined]

    def summary(self) -> dict[str, Any]:
        """The night in one record (plain JSON): published, held back, failed, and what it cost."""
        records = self.records
        return {
            "night": self.night,
            "run_id": self.run_id,
            "ok": self.ok,
            "published": sorted({r.table_name for r in records if r.status == PUBLISHED}),
            "rows_published": sum(r.rows for r in records if r.status == PUBLISHED),
            "quarantined": sorted(_held(o) for o in self.quarantined),
            "failed": sorted(f"{r.table_name}: {r.message}" for r in records if r.status == FAILED),
            "source_errors": sorted(f"{landing.source}: {error}" for landing in self.landings for error in landing.errors),
            "api_calls": sum(self.api_calls.values()),
            "cloudwatch_cost_usd": round(self.cloudwatch_cost_usd, 4),
            "spice_refreshes": len(self.ingestions),
        }

    def landing(self, source: str) -> Landing:
        """What source `source` (e.g. cloudwatch_metrics) did tonight."""
        found = [landing for landing in self.landings if landing.source == source]
        if not found:
            raise KeyError(f"no source {source!r} landed in night {self.night}")
        return found[0]


@dataclass(frozen=True)
class Landed:
    """A source's landing and what it cost: API calls and estimated CloudWatch dollars while it ran."""

    landing: Landing
    api_calls: int
    cost_usd: float


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def default_landers(monitor_progress: Callable[[int, int], None] | None = None) -> tuple[Lander, ...]:
    """Every source, in the order a night lands them.

    `monitor_progress(done, total)` hears about each Model Monitor report fetched: a night can
    hold thousands of small objects, and a person watching wants to see them go by.
    """
    return (
        CLOUDWATCH_METRICS,
        ENDPOINTS,
        model_monitor_lander(monitor_progress),
        BUSINESS_KPIS,
        ENDPOINT_MODELS,
        ENDPOINT_LOG_PATTERNS,
    )


def run_night(
    config: Config,
    night: date,
    *,
    session: Session,
    engine: QueryEngine,
    run_id: str | None = None,
    landers: Sequence[Lander] | None = None,
    gate: Gate = audit_and_switch,
) -> NightResult:
    """Land night `night` for every source: stage, audit and switch in (or hold back), finish, views, records.

    `engine` is where the views are created (Athena in AWS, DuckDB over a local stack's lake); `gate` audits
    each staged partition (a benchmark wraps it to time the audit apart).
    A sharded night (`pipelines.fanout`) is the same two halves: each shard lands its part, one step publishes.
    """
    run_id = run_id or new_run_id()
    started = _now()
    landers = default_landers() if landers is None else landers
    ensure_lake(session, config.lake)
    settle("imports")  # what the night imported lives as long as the process: the collector stops walking it
    prepare_shared_validator()  # GE's import overlaps the landing
    with night_lock(session, config.lake, night.isoformat(), run_id):
        landed = land_sources(config, night, session=session, run_id=run_id, landers=landers)
        return publish_landed(
            config,
            night,
            session=session,
            engine=engine,
            run_id=run_id,
            landed=landed,
            landers=landers,
            started=started,
            gate=gate,
        )


def land_sources(config: Config, night: date, *, session: Session, run_id: str, landers: Sequence[Lander]) -> list[Landed]:
    """The landing half of a night: every source stages its partitions under run `run_id`; nothing is switched in."""
    with run_context(run_id, night.isoformat()):
        return [_land(lander, session, config, night, run_id) for lander in landers]


def publish_landed(
    config: Config,
    night: date,
    *,
    session: Session,
    engine: QueryEngine,
    run_id: str,
    landed: Sequence[Landed],
    landers: Sequence[Lander],
    started: datetime,
    gate: Gate = audit_and_switch,
    shard_calls: Mapping[str, int] | None = None,
    shard_cost_usd: float = 0.0,
) -> NightResult:
    """The publishing half: audit and switch every staged partition (`gate`), the sources finish, views, records, signals.

    `shard_calls`/`shard_cost_usd` are what other processes spent landing (a sharded night), added to this session's.
    """
    with run_context(run_id, night.isoformat()):
        local = session.endpoint_url is not None
        outcomes: list[GateOutcome] = []
        unpublished: list[RunRecord] = []  # partitions whose audit or switch kept failing: readers keep what they had
        for staged in (staged for one in landed for staged in one.landing.staged):
            try:
                for attempt in unit_retries(f"publish {staged.table} dt={staged.dt}", local=local):
                    with attempt:
                        outcome = gate(session, config, staged, night.isoformat())
                outcomes.append(outcome)
            except (PipelineError, ClientError, BotoCoreError) as error:
                message = f"not published: {type(error).__name__}: {error}"
                log.error("publish_failed", run_id=run_id, table=staged.table, dt=staged.dt, error=message)
                unpublished.append(
                    RunRecord(run_id, staged.dt or night.isoformat(), staged.table, 0, FAILED, started, _now(), [], message)
                )
        for lander in landers:
            _finish(lander, session, config, night, run_id)
        _after_audit(session, config, night, run_id, [one.landing for one in landed], outcomes)
        view_error = _apply_views(session, config, engine, run_id)
        switched = [o.switched for o in outcomes if o.switched]
        ingestions = [] if view_error else _refresh_reports(session, config, night, switched, run_id)
        records = _records(run_id, night, started, list(landed), outcomes, view_error) + unpublished
        for attempt in unit_retries("pipeline_runs records", local=local):
            with attempt:
                write_run_records(session, config.lake, records)
        calls = Counter(session.calls.snapshot())
        calls.update(shard_calls or {})
        result = NightResult(
            night.isoformat(),
            run_id,
            switched,
            records,
            dict(calls),
            session.calls.cloudwatch_cost_usd() + shard_cost_usd,
            outcomes,
            [one.landing for one in landed],
            ingestions,
        )
        _signal(session, config, engine, night, result, run_id)
        empty_trash(session, config.lake)  # partitions replaced more than the grace ago, by this night or earlier ones
        log.info(
            "night",
            night=result.night,
            run_id=run_id,
            ok=result.ok,
            api_calls=sum(one.api_calls for one in landed),
            partitions={f"{o.staged.table}/{o.staged.dt}": o.status for o in outcomes},
        )
        _summarize(session, config, result)
        return result


def _summarize(session: Session, config: Config, result: NightResult) -> None:
    """The run summary, logged and written last (its presence says the night ran to the end); a failure is logged."""
    summary = result.summary()
    log.info("run_summary", **summary)
    try:
        for attempt in unit_retries("run summary", local=session.endpoint_url is not None):
            with attempt:
                write_summary(session, config.lake, summary)
    except (PipelineError, ClientError, BotoCoreError) as error:
        log.warning("run_summary_not_written", run_id=result.run_id, error=str(error))


def _land(lander: Lander, session: Session, config: Config, night: date, run_id: str) -> Landed:
    """One source; a failure of the whole source is reported, never the end of the night."""
    calls_before, cost_before = sum(session.calls.snapshot().values()), session.calls.cloudwatch_cost_usd()
    try:
        landing = lander.land(session, config, night, run_id)
    except (PipelineError, ClientError, BotoCoreError) as error:
        landing = Landing(source=lander.name, errors=[f"{type(error).__name__}: {error}"])
    log.info(
        "landing",
        run_id=run_id,
        source=landing.source,
        partitions=len(landing.staged),
        rejected=len(landing.rejections),
        errors=landing.errors,
        counts=landing.counts,
    )
    calls = sum(session.calls.snapshot().values()) - calls_before
    return Landed(landing, calls, session.calls.cloudwatch_cost_usd() - cost_before)


def _finish(lander: Lander, session: Session, config: Config, night: date, run_id: str) -> None:
    """A source's after-audit step; what it leaves undone is retried by the next night's."""
    try:
        lander.finish(session, config, night)
    except (PipelineError, ClientError, BotoCoreError) as error:
        log.error("finish", run_id=run_id, source=lander.name, error=f"{type(error).__name__}: {error}")


def _after_audit(
    session: Session, config: Config, night: date, run_id: str, landings: list[Landing], outcomes: list[GateOutcome]
) -> None:
    """What follows the switch: rejected objects recorded, the audit's metrics and docs."""
    rejections = [row for landing in landings for row in landing.rejections]
    if rejections:
        table = pa.Table.from_pylist(rejections, schema=SOURCE_REJECTIONS.schema)
        append_log(session, config.lake, SOURCE_REJECTIONS, night.isoformat(), f"{run_id}-rejections", table)
    emit_metrics(session, config, outcomes)
    if config.validation.data_docs:
        docs = write_data_docs(session, [o.report for o in outcomes], f"{config.validation.data_docs.rstrip('/')}/{night}/")
        log.info("data_docs", night=night.isoformat(), index=docs)


def _apply_views(session: Session, config: Config, engine: QueryEngine, run_id: str) -> str | None:
    """The views follow every switch; one that fails is the night's failure, the data stays switched in."""
    try:
        for attempt in unit_retries("views", local=session.endpoint_url is not None):
            with attempt:
                changes = apply_views(session, config.lake, engine)
    except (PipelineError, ClientError, BotoCoreError) as error:
        log.error("views", run_id=run_id, error=str(error))
        return str(error)
    log.info("views", run_id=run_id, **{c.name: c.action for c in changes})
    return None


def _signal(session: Session, config: Config, engine: QueryEngine, night: date, result: NightResult, run_id: str) -> None:
    """The night's outcome and Model Monitor's violations for the alarms; a failure here is logged, the night stands."""
    try:
        data = night_signals(config, engine, night, failed=not result.ok, quarantined=len(result.quarantined))
        emit_night_signals(session, config, data)
    except (PipelineError, ClientError, BotoCoreError) as error:
        log.error("night_signals", run_id=run_id, error=f"{type(error).__name__}: {error}")


def _refresh_reports(session: Session, config: Config, night: date, switched: list[Switched], run_id: str) -> list[Ingestion]:
    """SPICE imports of the datasets whose views read what changed tonight; a failure is logged, the night stands."""
    settings = config.quicksight
    if settings is None or settings.import_mode != "SPICE" or not switched:
        return []
    try:
        ingestions = start_ingestions(
            session.client("quicksight"),
            settings.account_id,
            night,
            {s.table for s in switched},
            dataset_views(QUICKSIGHT_DIR),
            load_views(),
        )
    except (PipelineError, ClientError, BotoCoreError) as error:
        log.error("quicksight_refresh", run_id=run_id, error=f"{type(error).__name__}: {error}")
        return []
    log.info("quicksight_refresh", run_id=run_id, **{i.data_set_id: i.outcome for i in ingestions})
    return ingestions


def _records(
    run_id: str, night: date, started: datetime, landed: list[Landed], outcomes: list[GateOutcome], view_error: str | None
) -> list[RunRecord]:
    """The night's pipeline_runs rows: one per audited partition, one per day a source failed as a whole, the views'."""
    source_of = {staged.table: one for one in landed for staged in one.landing.staged}
    records = [_record(o, night, started, source_of[o.staged.table]) for o in outcomes]
    records += [
        RunRecord(
            run_id,
            dt,
            one.landing.source,
            0,
            FAILED,
            started,
            _now(),
            [],
            "; ".join(one.landing.errors),
            one.api_calls,
            one.cost_usd,
        )
        for one in landed
        if one.landing.errors and not one.landing.staged
        for dt in one.landing.days or [night.isoformat()]
    ]
    if view_error:
        records.append(RunRecord(run_id, night.isoformat(), "views", 0, FAILED, started, _now(), [], view_error))
    return records


def _record(outcome: GateOutcome, night: date, started: datetime, source: Landed) -> RunRecord:
    """The pipeline_runs row of one audited partition: a source that failed in part makes it `failed` even when switched in."""
    staged, report, held = outcome.staged, outcome.report, outcome.quarantined
    errors = "; ".join(source.landing.errors) or None
    message: str | None
    if held is not None and outcome.switched:  # published without the objects held back: say which
        status, message, failed = (FAILED if errors else PUBLISHED), "; ".join(filter(None, [held.summary, errors])), held.failed
    else:
        status = QUARANTINED if held else (FAILED if errors else PUBLISHED)
        message, failed = (report.summary() if held else errors), report.failed_names()
    dt = staged.dt or night.isoformat()  # an unpartitioned table's load belongs to the night that made it
    return RunRecord(
        staged.run_id,
        dt,
        staged.table,
        staged.rows,
        status,
        started,
        _now(),
        failed,
        message,
        source.api_calls,
        source.cost_usd,
    )


def _held(outcome: GateOutcome) -> str:
    """`table/dt`, and how many objects when only some were held back."""
    held = outcome.quarantined
    objects = f" ({len(held.objects)} object(s) held back)" if held and held.objects else ""
    return f"{outcome.staged.table}/{outcome.staged.dt}{objects}"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
