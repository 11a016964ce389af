"""Land business KPI drops: the latest drop for a day and business unit replaces that unit's file in the day's partition.

Order and idempotency:

- Every (day, business unit) of a drop becomes the file `part-<unit slug>` of partition `dt=<day>`,
  stamped (Parquet key-value metadata) with the drop's S3 LastModified and URI.
- Of all drops that carry a (day, unit), the latest stamp wins: LastModified, then the URI (S3
  keeps whole seconds, so within one second the later key wins). This holds within a night and
  across nights: a part is staged only when it is newer than the one published, so re-reading a
  drop that is already published (or superseded) changes nothing, and re-uploading a file wins.
- A (day, unit) is replaced as a whole: a correction carries every KPI of that unit for that day.
- A touched partition is staged as a new run prefix holding the new unit files plus `carry_over`
  of the other units' published files; the gate audits and publishes it (never this module).
- Drops stay in the inbox until every part they carry is published (or superseded by a newer
  drop): `finish_business_kpis`, called after the gate, archives them to `<inbox>_processed/<night>/`.
  A quarantined or failed partition leaves its drops in the inbox and they are retried next night.
- A drop that cannot be read or checked is moved to `<inbox>_rejected/` with a `.reason.txt` and
  reported as a `source_rejections` row; the other drops still land. A row dated outside the night's
  `DateWindow` (more than a year before the night, or after the last day that has ended) is such a problem.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import awswrangler as wr
import pyarrow as pa
import pyarrow.parquet as pq
from botocore.exceptions import BotoCoreError, ClientError

from pipelines.aws import Session
from pipelines.config import Config, LakeConfig
from pipelines.errors import RetriableError
from pipelines.lake import catalog
from pipelines.lake.paths import run_prefix, split_s3_uri
from pipelines.lake.schemas import BUSINESS_KPIS
from pipelines.lake.staging import StagedPartition, Stager
from pipelines.logs import get_logger
from pipelines.sources.business_kpis.inbox import (
    Inbox,
    InboxFile,
    RejectedDrop,
    archive,
    iter_inbox_files,
    read_inbox_file,
    set_aside,
)
from pipelines.sources.business_kpis.table import DateWindow, KpiPart, business_kpis_parts
from pipelines.sources.landing import Landing, SourceLander

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = get_logger(__name__)

SOURCE = "business_kpis"
# Parquet key-value metadata of each unit file: which drop it came from, to compare arrivals.
STAMP_MODIFIED, STAMP_URI = b"mlmon.source_last_modified", b"mlmon.source_uri"
Stamp = tuple[str, str]  # (LastModified as ISO UTC, URI): ordered by arrival


@dataclass(frozen=True)
class Drop:
    """A readable, valid inbox file and the (day, unit) parts it carries."""

    file: InboxFile
    parts: list[KpiPart]


@dataclass(frozen=True)
class Winner:
    """The latest drop's part for one (day, unit)."""

    stamp: Stamp
    part: KpiPart


def land_business_kpis(session: Session, config: Config, night: date, run_id: str) -> Landing:
    """Stage every (day, unit) the inbox's drops carry that is newer than what is published; never publish."""
    if config.business_kpis.inbox is None:
        return Landing(SOURCE)
    inbox = Inbox.from_uri(config.business_kpis.inbox)
    s3 = session.client("s3")
    loaded_at = _now()
    try:
        files = list(iter_inbox_files(s3, inbox))
    except RetriableError as error:
        return Landing(SOURCE, errors=[str(error)])
    drops, rejections, errors = _read_drops(s3, inbox, files, loaded_at, night, reject=True)
    winners = latest_parts(drops)
    published = _published(session, config.lake, {dt for dt, _ in winners}, errors)
    staged, unit_files = [], 0
    for dt, stamps in published.items():
        fresh = {name: w for (day, name), w in winners.items() if day == dt and _newer(w.stamp, stamps.get(name))}
        if not fresh:
            continue
        try:
            staged.append(_stage_day(session, config.lake, run_id, dt, fresh, sorted(set(stamps) - set(fresh))))
            unit_files += len(fresh)
        except (ClientError, BotoCoreError) as error:
            errors.append(f"{SOURCE} dt={dt}: not staged: {error}")
    archived = _archive_covered(s3, inbox, drops, published, night, errors)
    # Key names differ from what the night logs beside them (partitions, rejected, errors).
    counts = {
        "files": len(files),
        "files_rejected": len(rejections),
        "days_staged": len(staged),
        "unit_files": unit_files,
        "rows": sum(s.rows for s in staged),
        "files_archived": len(archived),
    }
    return Landing(SOURCE, staged, rejections, errors, counts)


def _stage_day(
    session: Session, lake: LakeConfig, run_id: str, dt: str, fresh: dict[str, Winner], others: list[str]
) -> StagedPartition:
    """Partition `dt` as a new run prefix: the fresh unit files plus the other units' published files."""
    stager = Stager(session, lake, BUSINESS_KPIS, run_id)
    try:
        for name, winner in sorted(fresh.items()):
            stager.add(dt, name, stamped(winner.part.table, winner.stamp))
        stager.carry_over(dt, others)
    except (ClientError, BotoCoreError):
        # A partition missing another unit's file must never reach the gate: drop what was written.
        wr.s3.delete_objects(run_prefix(lake, BUSINESS_KPIS.name, dt, run_id), boto3_session=session)
        raise
    return stager.staged()[0]


def finish_business_kpis(session: Session, config: Config, night: date) -> list[str]:
    """After the gate: archive every drop whose parts are all published (or superseded); returns their new URIs.

    Decided from what readers see now, not from tonight's outcomes, so it is also right after a
    crash, a rerun, or a person's release of a quarantined partition. Safe to call at any time.
    """
    if config.business_kpis.inbox is None:
        return []
    inbox = Inbox.from_uri(config.business_kpis.inbox)
    s3 = session.client("s3")
    try:
        files = list(iter_inbox_files(s3, inbox))
    except RetriableError as error:
        log.warning("business_kpis_finish", error=str(error))
        return []
    drops, _, errors = _read_drops(s3, inbox, files, _now(), night, reject=False)
    published = _published(session, config.lake, {p.dt for d in drops for p in d.parts}, errors)
    archived = _archive_covered(s3, inbox, drops, published, night, errors)
    log.info(
        "business_kpis_finished", night=night.isoformat(), archived=len(archived), left=len(drops) - len(archived), errors=errors
    )
    return archived


def latest_parts(drops: Iterable[Drop]) -> dict[tuple[str, str], Winner]:
    """(dt, unit file name) -> the part of the latest drop (LastModified, then URI) that carries it."""
    winners: dict[tuple[str, str], Winner] = {}
    for drop in sorted(drops, key=lambda d: d.file.stamp):
        for part in drop.parts:
            winners[(part.dt, part.file_name)] = Winner(drop.file.stamp, part)
    return winners


def stamped(table: pa.Table, stamp: Stamp) -> pa.Table:
    """The unit file's table with its drop's arrival in the Parquet metadata (readers ignore it)."""
    return table.replace_schema_metadata({STAMP_MODIFIED: stamp[0].encode(), STAMP_URI: stamp[1].encode()})


def published_stamps(session: Session, lake: LakeConfig, dt: str) -> dict[str, Stamp | None]:
    """The files of published partition `dt` (name without .parquet) and the drop each came from (None: unknown)."""
    location = catalog.partition_location(session, lake, BUSINESS_KPIS.name, dt)
    if location is None:
        return {}
    uris = wr.s3.list_objects(location.rstrip("/") + "/", suffix=".parquet", boto3_session=session)
    return {uri.rsplit("/", 1)[1].removesuffix(".parquet"): _stamp_of(session, uri) for uri in sorted(uris)}


def _published(session: Session, lake: LakeConfig, dts: set[str], errors: list[str]) -> dict[str, dict[str, Stamp | None]]:
    """Switched stamps of each day; a day whose partition cannot be read is left out (nothing staged or archived for it)."""
    found = {}
    for dt in sorted(dts):
        try:
            found[dt] = published_stamps(session, lake, dt)
        except (ClientError, BotoCoreError) as error:
            errors.append(f"{SOURCE} dt={dt}: cannot read the published partition: {error}")
    return found


def _stamp_of(session: Session, uri: str) -> Stamp | None:
    bucket, key = split_s3_uri(uri)
    body = session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    metadata = pq.read_metadata(pa.BufferReader(body)).metadata or {}
    if STAMP_MODIFIED not in metadata or STAMP_URI not in metadata:
        return None
    return metadata[STAMP_MODIFIED].decode(), metadata[STAMP_URI].decode()


def _newer(stamp: Stamp, published: Stamp | None) -> bool:
    return published is None or stamp > published


def _read_drops(
    s3: S3Client, inbox: Inbox, files: list[InboxFile], loaded_at: datetime, night: date, *, reject: bool
) -> tuple[list[Drop], list[dict[str, Any]], list[str]]:
    """Read and check each file, its dates against `night`; bad ones are moved aside (when `reject`) and become rejection rows."""
    drops: list[Drop] = []
    rejections: list[dict[str, Any]] = []
    errors: list[str] = []
    # Finish builds it again, later: `earliest` hangs on the night and `latest` only moves on, so what landed still passes.
    window = DateWindow.landing(night, loaded_at)
    for file in files:
        try:
            raw = read_inbox_file(s3, inbox, file)
            drops.append(Drop(file, business_kpis_parts(raw, file.uri, loaded_at, file.first_row, window=window)))
        except RejectedDrop as rejected:
            if reject:
                rejections.append(_reject(s3, inbox, file, rejected, loaded_at, errors))
        except RetriableError as error:  # unreadable tonight (S3): left in the inbox for the next night
            errors.append(str(error))
    return drops, rejections, errors


def _reject(
    s3: S3Client, inbox: Inbox, file: InboxFile, rejected: RejectedDrop, detected_at: datetime, errors: list[str]
) -> dict[str, Any]:
    reason = str(rejected)
    try:
        moved: str | None = set_aside(s3, inbox, file, reason)
    except RetriableError as error:
        moved = None
        errors.append(str(error))
    log.warning("business_kpis_rejected", source_uri=file.uri, moved_to=moved, reason=reason)
    return {
        "source": SOURCE,
        "account_id": None,
        "region": None,
        "source_uri": file.uri,
        "reason": reason,
        "size_bytes": file.size,
        "detected_at": detected_at,
    }


def _archive_covered(
    s3: S3Client, inbox: Inbox, drops: list[Drop], published: dict[str, dict[str, Stamp | None]], night: date, errors: list[str]
) -> list[str]:
    """Archive the drops whose every part is published from them or from a later drop."""
    archived = []
    for drop in drops:
        if all(not _newer(drop.file.stamp, published.get(p.dt, {}).get(p.file_name)) for p in drop.parts):
            try:
                archived.append(archive(s3, inbox, drop.file, night))
            except RetriableError as error:
                errors.append(str(error))
    return archived


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


LANDER = SourceLander(SOURCE, land_business_kpis, finish_business_kpis, rerunnable=False)
