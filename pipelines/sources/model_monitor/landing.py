"""The Model Monitor source of a night: find D's executions under every report prefix, read them, stage six tables."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pipelines.aws import Session
from pipelines.config import Config
from pipelines.errors import PipelineError
from pipelines.faults import unit_retries
from pipelines.lake.paths import account_region_file
from pipelines.lake.staging import StagedPartition, Stager
from pipelines.logs import get_logger
from pipelines.sources.landing import Landing, SourceLander
from pipelines.sources.model_monitor.documents import ParsedReport, Thresholds, UnreadableReport, read_report
from pipelines.sources.model_monitor.reports import (
    CONSTRAINTS,
    Execution,
    Progress,
    ReportOwner,
    fetch_one,
    iter_executions,
    iter_report_bodies,
    report_owner,
    split_s3_uri,
)
from pipelines.sources.model_monitor.tables import REPORT_TABLES, ExecutionReport, monitor_tables

SOURCE = "model_monitor"
log = get_logger(__name__)
Group = tuple[str, str]  # (account id, region): one file per group in each table's partition


@dataclass
class _Readers:
    """One S3 client per report owner, created once and shared by the fetch threads
    (boto3 clients are thread-safe; sessions are not)."""

    session: Session
    config: Config
    _clients: dict[tuple[str | None, str], Any] = field(default_factory=dict)
    _lake_account: str | None = None

    def group(self, owner: ReportOwner) -> Group:
        if owner.account_id is not None:
            return owner.account_id, owner.region
        if self._lake_account is None:  # a bucket not named after its account: the lake's own
            self._lake_account = str(self.session.client("sts").get_caller_identity()["Account"])
        return self._lake_account, owner.region

    def client(self, owner: ReportOwner) -> Any:
        key = (owner.source.account_id if owner.source else None, owner.region)
        if key not in self._clients:
            source = owner.source
            if source is not None and source.role_arn:
                reader = self.session.assume(source.role_arn, owner.region, external_id=source.external_id)
            else:
                reader = self.session.in_region(owner.region)
            self._clients[key] = reader.client("s3", region_name=owner.region)
        return self._clients[key]


@dataclass
class _Night:
    """What the night has found so far: executions by group, rejections, errors, counters."""

    night: date
    found: dict[Group, list[tuple[Any, list[Execution]]]] = field(
        default_factory=dict
    )  # group -> (client, executions) per prefix
    failed: set[Group] = field(default_factory=set)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    parsed: dict[str, dict[str, ParsedReport]] = field(default_factory=dict)  # execution URI -> object URI -> parsed
    counts: dict[str, int] = field(default_factory=dict)

    def executions(self, group: Group) -> list[Execution]:
        return [e for _, executions in self.found.get(group, ()) for e in executions]

    def reject(self, group: Group | None, uri: str, reason: str, size: int | None) -> None:
        self.rejections.append(rejection_row(group, uri, reason, size))

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n


def rejection_row(group: Group | None, uri: str, reason: str, size: int | None) -> dict[str, Any]:
    """A source_rejections row for an object that could not be read at all."""
    account, region = group or (None, None)
    return {
        "source": SOURCE,
        "account_id": account,
        "region": region,
        "source_uri": uri,
        "reason": reason,
        "size_bytes": size,
        "detected_at": datetime.now(UTC).replace(tzinfo=None),
    }


def land_model_monitor(
    session: Session, config: Config, night: date, run_id: str, *, progress: Progress | None = None
) -> Landing:
    """Stage partition dt=`night` of the six report tables: one file per account and region.

    A prefix that cannot be listed goes to `errors` (its account/region's previously published
    file is carried over when no other prefix of it was read); an object that cannot be read
    becomes a `rejections` row; everything else lands. Nothing is published here.
    """
    started = time.perf_counter()
    if not config.model_monitor.report_prefixes:
        return Landing(SOURCE, counts={"prefixes": 0})
    readers, state = _Readers(session, config), _Night(night)
    for uri in config.model_monitor.report_prefixes:
        _discover(readers, state, uri)
    if not state.found:  # every prefix failed: keep what readers see now
        return Landing(SOURCE, errors=state.errors, counts=state.counts)
    baselines = _baselines(readers, state)
    _read_reports(
        state,
        config.model_monitor.max_workers,
        config.model_monitor.max_report_bytes,
        progress,
        local=config.endpoint_url is not None,
    )
    staged = _stage(session, config, run_id, state, baselines)
    log.info(
        "model_monitor",
        night=night.isoformat(),
        run_id=run_id,
        errors=len(state.errors),
        rejections=len(state.rejections),
        seconds=round(time.perf_counter() - started, 3),
        **state.counts,
    )
    return Landing(SOURCE, staged, state.rejections, state.errors, state.counts)


def model_monitor_lander(progress: Progress | None = None) -> SourceLander:
    """The source for a night; `progress(done, total)` hears about each report fetched (a night can hold thousands)."""

    def land(session: Session, config: Config, night: date, run_id: str) -> Landing:
        return land_model_monitor(session, config, night, run_id, progress=progress)

    return SourceLander(SOURCE, land)


def _discover(readers: _Readers, state: _Night, uri: str) -> None:
    """List one prefix's executions of the night; a failure names the prefix and spares the others."""
    group: Group | None = None
    try:
        bucket, key = split_s3_uri(uri)
        owner = report_owner(bucket, readers.config)
        group = readers.group(owner)
        s3 = readers.client(owner)
        for attempt in unit_retries(f"model_monitor prefix {uri}", local=readers.config.endpoint_url is not None):
            with attempt:
                found = iter_executions(
                    s3, bucket, key, state.night, *group, max_workers=readers.config.model_monitor.max_workers
                )
                executions = list(found)
    except (ClientError, BotoCoreError, PipelineError) as error:
        state.errors.append(f"model_monitor prefix {uri}: {type(error).__name__}: {error}")
        if group is not None:
            state.failed.add(group)
        return
    state.found.setdefault(group, []).append((s3, executions))
    state.count("prefixes")
    state.count("executions", len(executions))


def _baselines(readers: _Readers, state: _Night) -> dict[str, Thresholds]:
    """Model-quality thresholds of the endpoints seen tonight that have configured baseline constraints."""
    seen = {e.endpoint_name for group in state.found for e in state.executions(group) if e.endpoint_name}
    configured = readers.config.model_monitor.baselines
    uris = {name: b.model_quality_constraints for name, b in configured.items() if name in seen and b.model_quality_constraints}
    read: dict[str, Thresholds] = {}
    for uri in sorted(set(uris.values())):
        group = None
        try:
            owner = report_owner(split_s3_uri(uri)[0], readers.config)
            group = readers.group(owner)
            fetched = fetch_one(
                readers.client(owner),
                uri,
                readers.config.model_monitor.max_report_bytes,
                local=readers.config.endpoint_url is not None,
            )
            if fetched.body is None:
                raise UnreadableReport(fetched.error or "not read")
            read[uri] = read_report(CONSTRAINTS, fetched.body).thresholds
        except UnreadableReport as error:
            state.reject(group, uri, f"baseline constraints: {error.reason}", None)
        except (ClientError, BotoCoreError, PipelineError) as error:
            state.errors.append(f"model_monitor baseline {uri}: {type(error).__name__}: {error}")
    return {name: read[uri] for name, uri in uris.items() if uri in read}


def _read_reports(state: _Night, max_workers: int, max_bytes: int, progress: Progress | None, *, local: bool) -> None:
    """Fetch every report object concurrently and parse each as it arrives; unreadable ones are rejected."""
    execution_of = {obj.uri: e.uri for group in state.found for e in state.executions(group) for obj in e.reports}
    total = len(execution_of)
    done = 0
    for group, prefixes in state.found.items():
        for s3, executions in prefixes:
            objects = [obj for e in executions for obj in e.reports]
            for fetched in iter_report_bodies(
                s3,
                objects,
                max_workers=max_workers,
                max_bytes=max_bytes,
                progress=progress,
                done_before=done,
                total=total,
                local=local,
            ):
                obj = fetched.obj
                state.count("objects")
                try:
                    if fetched.body is None:
                        raise UnreadableReport(fetched.error or "not read")
                    state.count("bytes", len(fetched.body))
                    parsed = read_report(obj.kind or "", fetched.body)
                except UnreadableReport as error:
                    state.reject(group, obj.uri, error.reason, obj.size)
                    continue
                state.count("skipped_entries", parsed.skipped)
                state.parsed.setdefault(execution_of[obj.uri], {})[obj.uri] = parsed
            done += len(objects)


def _stage(
    session: Session, config: Config, run_id: str, state: _Night, baselines: dict[str, Thresholds]
) -> list[StagedPartition]:
    """Six tables per group into partition dt=night (empty ones too); failed groups keep their published file."""
    dt = state.night.isoformat()
    stagers = [Stager(session, config.lake, spec, run_id) for spec in REPORT_TABLES]
    for group in sorted(state.found):
        reports = [ExecutionReport(e, state.parsed.get(e.uri, {})) for e in state.executions(group)]
        tables, undetermined = monitor_tables(reports, baselines)
        for left_out in undetermined:
            state.reject(group, left_out.execution.uri, left_out.reason, None)
        for stager in stagers:
            stager.add(dt, account_region_file(*group), tables[stager.spec.name])
            state.count(stager.spec.name, tables[stager.spec.name].num_rows)
    for group in sorted(state.failed - set(state.found)):
        for stager in stagers:
            stager.carry_over(dt, [account_region_file(*group)])
    return [partition for stager in stagers for partition in stager.staged()]
