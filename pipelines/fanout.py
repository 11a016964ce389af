"""A night across processes: shards land (stage) their account x regions concurrently, one step audits and publishes all.

Write-audit-publish is unchanged: shards only stage files under the run's prefixes (one file per account x region, so
shards never write the same object) and a manifest each; nothing is switched in until `publish_night` has read every
manifest, carried over the published files of whatever failed, and audited each partition as a whole.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime

import awswrangler as wr

from pipelines.audit.gate import GateOutcome, audit, audit_and_switch, record_results
from pipelines.audit.quarantine import VERDICT, Quarantined, find
from pipelines.aws import Session
from pipelines.config import Config, LakeConfig
from pipelines.errors import FatalError
from pipelines.lake import catalog
from pipelines.lake.catalog import ensure_lake
from pipelines.lake.lock import night_lock
from pipelines.lake.paths import account_region_file, quarantine_prefix
from pipelines.lake.schemas import TABLES
from pipelines.lake.staging import StagedPartition, Stager, read_table
from pipelines.logs import get_logger
from pipelines.nightly import Gate, Landed, NightResult, default_landers, land_sources, publish_landed
from pipelines.query.engine import QueryEngine
from pipelines.shards import (
    Pair,
    Shard,
    ShardManifest,
    get_text,
    manifest_uri,
    publish_marker_uri,
    put_text,
    read_manifest,
    shard_config,
    shard_plan,
    write_manifest,
)
from pipelines.sources.cloudwatch_metrics.landing import LANDER as CLOUDWATCH_METRICS
from pipelines.sources.endpoint_log_patterns.landing import LANDER as ENDPOINT_LOG_PATTERNS
from pipelines.sources.endpoint_models.landing import LANDER as ENDPOINT_MODELS
from pipelines.sources.landing import AccountRegionResult, Lander, Landing
from pipelines.sources.per_account import account_regions

log = get_logger(__name__)

# Sources read account x region by account x region: each shard lands them for its own pairs. The others (the config's
# endpoints, Model Monitor reports found per S3 prefix, the business KPI inbox) are landed whole by shard 0.
PER_ACCOUNT = frozenset({CLOUDWATCH_METRICS.name, ENDPOINT_MODELS.name, ENDPOINT_LOG_PATTERNS.name})

__all__ = ["PER_ACCOUNT", "Shard", "ShardManifest", "land_shard", "publish_night", "shard_plan"]


def land_shard(
    config: Config,
    night: date,
    *,
    shard_index: int,
    shards: int,
    run_id: str,
    session: Session,
    landers: Sequence[Lander] | None = None,
) -> ShardManifest:
    """Stage shard `shard_index` of `shards` for run `run_id` and write its manifest; nothing is switched in.

    Rerunning a shard with the same run id replaces its files and manifest (files only the earlier attempt wrote are
    removed); once the publish step of the run has begun, a shard refuses: land under a new run id.
    """
    plan = shard_plan(config, shards)
    if not 0 <= shard_index < shards:
        raise FatalError(f"shard {shard_index} is not one of 0..{shards - 1}")
    dt = night.isoformat()
    if get_text(session, publish_marker_uri(config.lake, dt, run_id)) is not None:
        raise FatalError(f"run {run_id} of night {dt} is already being published: land it again under a new run id")
    pairs = plan[shard_index].pairs if shard_index < len(plan) else ()
    mine = shard_config(config, pairs)
    started, calls_before, cost_before = _now(), Counter(session.calls.snapshot()), session.calls.cloudwatch_cost_usd()
    landed: list[Landed] = []
    for lander in default_landers() if landers is None else landers:
        if lander.name in PER_ACCOUNT and shard_index < len(plan):
            landed += land_sources(mine, night, session=session, run_id=run_id, landers=[lander])
        elif lander.name not in PER_ACCOUNT and shard_index == 0:
            landed += land_sources(config, night, session=session, run_id=run_id, landers=[lander])
    calls = Counter(session.calls.snapshot())
    calls.subtract(calls_before)
    cost = session.calls.cloudwatch_cost_usd() - cost_before
    manifest = ShardManifest(dt, run_id, shard_index, shards, pairs, landed, started, _now(), dict(+calls), cost)
    _drop_earlier_attempt(session, config.lake, manifest)
    uri = write_manifest(session, config.lake, manifest)
    log.info(
        "shard",
        night=dt,
        run_id=run_id,
        shard=shard_index,
        shards=shards,
        pairs=len(pairs),
        manifest=uri,
        partitions=len(manifest.staged),
        errors=manifest.errors,
    )
    return manifest


def publish_night(
    config: Config,
    night: date,
    *,
    run_id: str,
    shards: int,
    session: Session,
    engine: QueryEngine,
    landers: Sequence[Lander] | None = None,
) -> NightResult:
    """Read the shards' manifests and publish the night as `run_night` would have: audit and switch each partition over
    every shard's files, the sources finish, views, records, SPICE ingestions, signals.

    A shard without a manifest failed: its account x regions are reported failed (shard 0: also the sources it lands
    whole) and keep what was published for them before. Rerunning with the same run id changes nothing.
    """
    dt = night.isoformat()
    plan = shard_plan(config, shards)
    landers = default_landers() if landers is None else landers
    ensure_lake(session, config.lake)
    with night_lock(session, config.lake, dt, run_id):  # one publish of a night at a time
        marker = publish_marker_uri(config.lake, dt, run_id)
        if get_text(session, marker) is None:  # from here on, shards of this run refuse to land
            put_text(session, marker, json.dumps({"run_id": run_id, "shards": shards, "started_at": _now().isoformat()}))
        manifests = [read_manifest(session, config.lake, dt, run_id, shard.index) for shard in plan]
        for shard, manifest in zip(plan, manifests, strict=True):
            if manifest is not None and (manifest.pairs, manifest.shards) != (shard.pairs, shards):
                raise FatalError(
                    f"{manifest_uri(config.lake, dt, run_id, shard.index)} was made with another plan ({manifest.shards} shards, "
                    f"{list(manifest.pairs)}): the config or --shards changed; land a new run"
                )
        landed = _merge(config, run_id, night, plan, manifests, landers)
        held = _held(session, config.lake, [s for one in landed for s in one.landing.staged])
        landed = [_prepared(session, config.lake, one, held) for one in landed]
        found = [m for m in manifests if m is not None]
        shard_calls: Counter[str] = Counter()
        for manifest in found:
            shard_calls.update(manifest.api_calls)
        missing = [s.index for s, m in zip(plan, manifests, strict=True) if m is None]
        log.info("publish_night", night=dt, run_id=run_id, shards=len(plan), missing=missing)
        return publish_landed(
            config,
            night,
            session=session,
            engine=engine,
            run_id=run_id,
            landed=landed,
            landers=landers,
            started=min((m.started_at for m in found), default=_now()),
            gate=_gate(held),
            shard_calls=shard_calls,
            shard_cost_usd=sum(m.cloudwatch_cost_usd for m in found),
        )


def _merge(
    config: Config, run_id: str, night: date, plan: list[Shard], manifests: list[ShardManifest | None], landers: Sequence[Lander]
) -> list[Landed]:
    """One Landed per source, as if one process had landed it: the shards' partitions joined, missing shards failed."""
    order = {(a, r): i for i, (a, _, r) in enumerate(account_regions(config))}  # config order, as one process reports them
    missing = [shard for shard, manifest in zip(plan, manifests, strict=True) if manifest is None]
    why = {
        s.index: f"shard {s.index} wrote no manifest ({manifest_uri(config.lake, night.isoformat(), run_id, s.index)})"
        for s in missing
    }
    merged = []
    for lander in landers:
        parts = [one for m in manifests if m is not None for one in m.landed if one.landing.source == lander.name]
        if lander.name in PER_ACCOUNT:
            lost = [AccountRegionResult(a, r, error=why[s.index]) for s in missing for a, r in s.pairs]
            merged.append(_joined(lander.name, parts, lost, order))
        elif manifests[0] is None:
            merged.append(Landed(Landing(lander.name, errors=[why[0]]), 0, 0.0))
        else:
            merged += parts
    return merged


def _joined(source: str, parts: list[Landed], lost: list[AccountRegionResult], order: dict[Pair, int]) -> Landed:
    """A per-account source's landings from every shard as one: partitions' files joined, accounts in config order."""
    staged: dict[tuple[str, str | None], StagedPartition] = {}
    for one in parts:
        for s in one.landing.staged:
            prior = staged.get((s.table, s.dt))
            staged[(s.table, s.dt)] = (
                s if prior is None else replace(prior, files=prior.files + s.files, rows=prior.rows + s.rows)
            )
    accounts = [a for one in parts for a in one.landing.accounts] + lost
    counts: Counter[str] = Counter()
    for one in parts:
        counts.update(one.landing.counts)
    counts.update({"accounts": len(lost), "accounts_failed": len(lost)})
    landing = Landing(
        source,
        sorted(staged.values(), key=lambda s: (s.table, s.dt or "")),
        [row for one in parts for row in one.landing.rejections],
        [e for one in parts for e in one.landing.errors] + [f"{a.account_id}/{a.region}: {a.error}" for a in lost],
        dict(counts),
        sorted({day for one in parts for day in one.landing.days}),
        sorted(accounts, key=lambda a: order.get((a.account_id, a.region), len(order))),
    )
    return Landed(landing, sum(one.api_calls for one in parts), sum(one.cost_usd for one in parts))


def _held(session: Session, lake: LakeConfig, staged: list[StagedPartition]) -> dict[tuple[str, str | None], Quarantined]:
    """The partitions an earlier publish of this run already quarantined (their staged files moved away)."""
    held = {}
    for s in staged:
        if get_text(session, f"{quarantine_prefix(lake, s.table, s.dt, s.run_id)}{VERDICT}") is not None:
            held[(s.table, s.dt)] = find(session, lake, s.table, s.dt, s.run_id)
    return held


def _prepared(session: Session, lake: LakeConfig, one: Landed, held: dict[tuple[str, str | None], Quarantined]) -> Landed:
    """Every partition complete before the audit: failed accounts' published files carried over, leftovers removed."""
    failed = [account_region_file(a.account_id, a.region) for a in one.landing.accounts if a.error]
    staged = [s if (s.table, s.dt) in held else _complete(session, lake, s, failed) for s in one.landing.staged]
    return replace(one, landing=replace(one.landing, staged=staged))


def _complete(session: Session, lake: LakeConfig, staged: StagedPartition, failed: list[str]) -> StagedPartition:
    """Carry over the failed accounts' files a shard could not (all its accounts failed, or it never wrote a manifest),
    then delete what no manifest names (a crashed shard's files, an earlier attempt's): the switch exposes the prefix."""
    present = set(wr.s3.list_objects(staged.uri, boto3_session=session))
    gone = sorted(set(staged.files) - present)
    if gone:
        raise FatalError(f"run {staged.run_id}: staged {gone[0]} is gone (superseded by a newer run?): land a new run")
    have = {_name(uri) for uri in staged.files}
    wanted = [name for name in failed if name not in have]
    if wanted and staged.dt is not None:
        previous = catalog.partition_location(session, lake, staged.table, staged.dt)
        if previous is not None and previous.rstrip("/") == staged.uri.rstrip("/"):
            # this run was switched in before (a rerun of the publish step): what it carried is in place already
            carried = sorted(uri for uri in present if _name(uri) in wanted)
            rows = _rows(session, lake, staged, carried)
        else:
            stager = Stager(session, lake, TABLES[staged.table], staged.run_id)
            carried = stager.carry_over(staged.dt, wanted)
            rows = sum(p.rows for p in stager.staged())
        staged = replace(staged, files=staged.files + tuple(carried), rows=staged.rows + rows)
    leftovers = sorted(present - set(staged.files))
    if leftovers:
        log.warning("staged_leftovers_removed", table=staged.table, dt=staged.dt, run_id=staged.run_id, files=leftovers)
        wr.s3.delete_objects(leftovers, boto3_session=session)
    return staged


def _rows(session: Session, lake: LakeConfig, staged: StagedPartition, uris: list[str]) -> int:
    return read_table(session, uris, TABLES[staged.table].schema).num_rows if uris else 0


def _gate(held: dict[tuple[str, str | None], Quarantined]) -> Gate:
    """audit_and_switch, except for a partition this run already quarantined: its verdict is taken again from the
    quarantined copy (same result, same validation_results object), nothing moves."""

    def gate(session: Session, config: Config, staged: StagedPartition, night: str) -> GateOutcome:
        item = held.get((staged.table, staged.dt))
        if item is None:
            return audit_and_switch(session, config, staged, night)
        copy = replace(staged, uri=item.uri, files=tuple(f"{item.uri}{_name(uri)}.parquet" for uri in staged.files))
        report = audit(session, config, copy)
        record_results(session, config, report, night)
        return GateOutcome(staged, report, None, item)

    return gate


def _drop_earlier_attempt(session: Session, lake: LakeConfig, manifest: ShardManifest) -> None:
    """A rerun of a shard under the same run id: the files only the earlier attempt staged must not reach readers."""
    earlier = read_manifest(session, lake, manifest.night, manifest.run_id, manifest.shard_index)
    if earlier is None:
        return
    stale = sorted({f for s in earlier.staged for f in s.files} - {f for s in manifest.staged for f in s.files})
    if stale:
        wr.s3.delete_objects(stale, boto3_session=session)


def _name(uri: str) -> str:
    """A staged file's name without folder and suffix: `part-<account>-<region>`."""
    return uri.rsplit("/", 1)[1].removesuffix(".parquet")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
