"""Quarantine: staged data that failed a critical expectation, kept with its verdict until a person decides."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import awswrangler as wr
import pyarrow as pa

from pipelines.aws import Session
from pipelines.config import LakeConfig
from pipelines.errors import FatalError
from pipelines.lake import catalog
from pipelines.lake.paths import quarantine_prefix, quarantine_root, run_of, run_prefix, split_s3_uri
from pipelines.lake.staging import StagedPartition, Switched, parquet_rows, sweep_runs, switch, upload_parquet
from pipelines.logs import get_logger

VERDICT = "validation.json"

log = get_logger(__name__)


class QuarantineError(FatalError):
    """The quarantined partition asked for does not exist, or releasing it would lose newer data."""


@dataclass(frozen=True)
class Quarantined:
    """One held-back partition and why: what `mlmon quarantine list/show` prints."""

    table: str
    dt: str | None
    run_id: str
    uri: str
    rows: int
    failed: list[str]
    summary: str
    quarantined_at: str
    # Held back from a partition that was published without them: the objects whose rows these are. Empty: the whole
    # partition is held back.
    objects: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.table}/{self.dt or '-'}/{self.run_id}"


def quarantine(session: Session, lake: LakeConfig, staged: StagedPartition, verdict: dict[str, Any], summary: str) -> Quarantined:
    """Move the staged files under the quarantine prefix and write the verdict beside them."""
    target = quarantine_prefix(lake, staged.table, staged.dt, staged.run_id)
    wr.s3.copy_objects(list(staged.files), source_path=staged.uri, target_path=target, boto3_session=session)
    item = Quarantined(
        staged.table,
        staged.dt,
        staged.run_id,
        target,
        staged.rows,
        list(verdict.get("failed", [])),
        summary,
        datetime.now(UTC).isoformat(timespec="seconds"),
    )
    document = {**verdict, "quarantine": {**item.__dict__}}
    _put_json(session, f"{target}{VERDICT}", document)
    wr.s3.delete_objects(staged.uri, boto3_session=session)
    return item


HELD_ROWS = "held-objects.parquet"


def quarantine_objects(
    session: Session, lake: LakeConfig, staged: StagedPartition, held: pa.Table, objects: tuple[str, ...], verdict: dict[str, Any]
) -> Quarantined:
    """Keep the rows of `objects` (held back from a partition published without them) with their verdict."""
    target = quarantine_prefix(lake, staged.table, staged.dt, staged.run_id)
    upload_parquet(session, held, f"{target}{HELD_ROWS}")
    failed = list(verdict.get("failed", []))
    summary = f"{staged.table} dt={staged.dt}: held back {len(objects)} object(s) ({held.num_rows} rows): {', '.join(objects)}"
    item = Quarantined(
        staged.table,
        staged.dt,
        staged.run_id,
        target,
        held.num_rows,
        failed,
        f"{summary}; failed: {', '.join(failed)}",
        datetime.now(UTC).isoformat(timespec="seconds"),
        objects,
    )
    _put_json(session, f"{target}{VERDICT}", {**verdict, "quarantine": {**item.__dict__, "objects": list(objects)}})
    return item


def sweep_unfinished(session: Session, lake: LakeConfig, staged: StagedPartition) -> list[str]:
    """Delete the partition's quarantine entries that runs began and never finished (data copied, no verdict: the
    run died in between), once they are ABANDONED_AFTER older than this run. `quarantine list` never shows such an
    entry and nothing else would ever delete it; one with its verdict is a person's to release or drop."""
    folder = quarantine_prefix(lake, staged.table, staged.dt, staged.run_id).rstrip("/").rsplit("/", 1)[0] + "/"
    s3 = session.client("s3")

    def finished(uri: str) -> bool:
        bucket, key = split_s3_uri(f"{uri}{VERDICT}")
        return bool(s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("KeyCount"))

    swept = sweep_runs(session, folder, staged.run_id, keep=finished)
    if swept:
        log.info("swept_unfinished_quarantines", table=staged.table, dt=staged.dt, prefixes=swept)
    return swept


def list_quarantined(session: Session, lake: LakeConfig, table: str | None = None) -> list[Quarantined]:
    """Everything held back, oldest run first."""
    verdicts = wr.s3.list_objects(quarantine_root(lake, table), suffix=VERDICT, boto3_session=session)
    items = [_item(_get_json(session, uri)) for uri in verdicts]
    return sorted(items, key=lambda q: (q.run_id, q.table, q.dt or ""))


def verdict(session: Session, item: Quarantined) -> dict[str, Any]:
    """The full validation result kept beside the data."""
    return _get_json(session, f"{item.uri}{VERDICT}")


def find(session: Session, lake: LakeConfig, table: str, dt: str | None, run_id: str | None = None) -> Quarantined:
    """The quarantined partition of `table` and `dt` (the newest, unless `run_id` says which)."""
    matches = [q for q in list_quarantined(session, lake, table) if q.dt == dt and (run_id is None or q.run_id == run_id)]
    if not matches:
        raise QuarantineError(f"nothing quarantined for {table} dt={dt}" + (f" run {run_id}" if run_id else ""))
    return matches[-1]


def release(session: Session, lake: LakeConfig, item: Quarantined, *, force: bool = False) -> Switched:
    """Publish a quarantined partition after a person decided the data is right.

    Refuses when the partition was published again by a newer run since: releasing then
    would replace newer data with older (unless `force`).
    """
    current = catalog.partition_location(session, lake, item.table, item.dt) if item.dt else None
    if item.objects:
        return _release_objects(session, lake, item, current, force=force)
    current_run = run_of(current) if current else None
    newer = current_run is not None and current_run > item.run_id
    if newer and not force:
        raise QuarantineError(
            f"{item.ref}: the partition was published by a newer run since ({current}); use --force to replace it"
        )
    target = run_prefix(lake, item.table, item.dt, item.run_id)
    data = [uri for uri in wr.s3.list_objects(item.uri, boto3_session=session) if not uri.endswith(VERDICT)]
    copied = wr.s3.copy_objects(data, source_path=item.uri, target_path=target, boto3_session=session)
    switched = switch(session, lake, StagedPartition(item.table, item.dt, item.run_id, target, tuple(copied), item.rows))
    wr.s3.delete_objects(item.uri, boto3_session=session)
    return switched


def _release_objects(session: Session, lake: LakeConfig, item: Quarantined, current: str | None, *, force: bool) -> Switched:
    """Held-back objects rejoin the partition they were held from: its files and theirs, under a new run, switched in.

    Refuses when the partition was published again since (their rows may be in it now), unless `force`."""
    if current is None or (run_of(current) != item.run_id and not force):
        raise QuarantineError(
            f"{item.ref}: the partition is no longer the one these objects were held from ({current}); use --force to add them"
        )
    run_id = f"{item.run_id}-released-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    target = run_prefix(lake, item.table, item.dt, run_id)
    published = wr.s3.list_objects(current.rstrip("/") + "/", boto3_session=session)
    copied = wr.s3.copy_objects(published, source_path=current.rstrip("/") + "/", target_path=target, boto3_session=session)
    copied += wr.s3.copy_objects([f"{item.uri}{HELD_ROWS}"], source_path=item.uri, target_path=target, boto3_session=session)
    rows = parquet_rows(session, copied)
    switched = switch(session, lake, StagedPartition(item.table, item.dt, run_id, target, tuple(copied), rows))
    wr.s3.delete_objects(item.uri, boto3_session=session)
    return switched


def drop(session: Session, item: Quarantined) -> None:
    """Delete a quarantined partition for good."""
    wr.s3.delete_objects(item.uri, boto3_session=session)


def _item(document: dict[str, Any]) -> Quarantined:
    fields = dict(document["quarantine"])
    return Quarantined(**{**fields, "objects": tuple(fields.get("objects", ()))})


def _put_json(session: Session, uri: str, document: dict[str, Any]) -> None:
    bucket, key = split_s3_uri(uri)
    body = json.dumps(document, indent=1, default=str).encode("utf-8")
    session.client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")


def _get_json(session: Session, uri: str) -> dict[str, Any]:
    bucket, key = split_s3_uri(uri)
    return dict(json.loads(session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()))
