"""Find one night's Model Monitor executions under a report prefix by date prefix, and fetch their reports concurrently."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from pipelines.config import AccountConfig, Config
from pipelines.errors import FatalError
from pipelines.faults import unit_retries
from pipelines.lake import paths as lake_paths

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# SageMaker's default bucket: sagemaker-<region>-<account id> (Session.default_bucket()).
_DEFAULT_BUCKET = re.compile(r"^sagemaker-(?P<region>[a-z]{2}(?:-[a-z]+)+-\d)-(?P<account>\d{12})$")
_YEAR = re.compile(r"^\d{4}$")
_HOUR = re.compile(r"^([01]\d|2[0-3])$")
# The SDK uploads Clarify configs to {prefix}/{job definition}/{uuid}/analysis_config.json.
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
# Folders under a report prefix that hold no executions: the model-quality ground-truth merge.
SKIPPED_FOLDERS = frozenset({"merge"})
SKIPPED_FILES = frozenset({"analysis_config.json"})

# Report files by kind; bring-your-own containers misspell them (statistic.json, constraint_violation.json).
STATISTICS, CONSTRAINTS, VIOLATIONS, ANALYSIS = "statistics", "constraints", "violations", "analysis"
_KINDS = (
    (VIOLATIONS, re.compile(r"^(constraints?[_-]?)?violations?\.json$", re.IGNORECASE)),
    (STATISTICS, re.compile(r"^statistics?\.json$", re.IGNORECASE)),
    (CONSTRAINTS, re.compile(r"^constraints?\.json$", re.IGNORECASE)),
    (ANALYSIS, re.compile(r"^analysis\.json$", re.IGNORECASE)),
)

CANONICAL_NAMES = {
    STATISTICS: "statistics.json",
    CONSTRAINTS: "constraints.json",
    VIOLATIONS: "constraint_violations.json",
    ANALYSIS: "analysis.json",
}

Progress = Callable[[int, int], None]


class BadReportPrefix(FatalError):
    """A configured report prefix or baseline URI is not an s3:// URI with a bucket."""


def report_kind(name: str) -> str | None:
    """statistics, constraints, violations or analysis for a report file name (tolerant), else None."""
    base = name.rsplit("/", 1)[-1]
    return next((kind for kind, pattern in _KINDS if pattern.match(base)), None)


def split_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key) of a report prefix; a malformed one is BadReportPrefix (that prefix fails, the others land)."""
    try:
        return lake_paths.split_s3_uri(uri)
    except FatalError:
        raise BadReportPrefix(f"{uri!r} is not an s3://bucket/... URI") from None


@dataclass(frozen=True)
class ReportOwner:
    """Whose reports a bucket holds and how to read them.

    A bucket named like SageMaker's default, `sagemaker-<region>-<account>`, belongs to that
    account and region: its rows carry them, and it is read with that source's session (its
    role, if configured; the lake's credentials when the account is not a configured source).
    Any other bucket is read with the lake's session and its rows carry the lake's account
    (the caller identity) and region.
    """

    account_id: str | None  # None: the lake's account, looked up once when needed
    region: str
    source: AccountConfig | None  # None: read with the lake's session


def default_bucket_owner(bucket: str) -> tuple[str, str] | None:
    """(account id, region) of a bucket named `sagemaker-<region>-<account>`, else None."""
    match = _DEFAULT_BUCKET.match(bucket)
    return (match["account"], match["region"]) if match else None


def report_owner(bucket: str, config: Config) -> ReportOwner:
    """Who owns the reports in `bucket`, by its name (see ReportOwner)."""
    owner = default_bucket_owner(bucket)
    if owner is None:
        return ReportOwner(None, config.lake.region, None)
    account, region = owner
    source = next((s for s in config.sources if s.account_id == account), None)
    return ReportOwner(account, region, source)


@dataclass(frozen=True)
class ReportObject:
    """One object of an execution's report folder, as listed (size known before any download)."""

    bucket: str
    key: str
    size: int
    name: str  # path inside the execution folder, e.g. "constraint_violations.json"

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def kind(self) -> str | None:
        return report_kind(self.name)


@dataclass(frozen=True)
class Execution:
    """One monitoring execution: the report folder {prefix}/[{endpoint}/]{schedule}/yyyy/mm/dd/HH/."""

    account_id: str
    region: str
    endpoint_name: str | None  # None: a batch-transform monitor (no endpoint level)
    schedule_name: str
    scheduled_hour: datetime  # naive UTC
    uri: str
    objects: tuple[ReportObject, ...]

    @property
    def report_files(self) -> list[str]:
        return sorted(o.name for o in self.objects)

    @property
    def reports(self) -> tuple[ReportObject, ...]:
        """The objects worth downloading: one per kind, the canonical name first (statistics.json over statistic.json)."""
        chosen: dict[str, ReportObject] = {}
        for obj in self.objects:
            kind = obj.kind
            if kind is not None and (kind not in chosen or obj.name.rsplit("/", 1)[-1] == CANONICAL_NAMES[kind]):
                chosen[kind] = obj
        return tuple(chosen.values())


@dataclass(frozen=True)
class Schedule:
    endpoint_name: str | None
    schedule_name: str
    key: str  # ends with "/"


def iter_schedules(s3: S3Client, bucket: str, prefix: str) -> Iterator[Schedule]:
    """Every schedule folder under `prefix`, endpoint and batch layouts alike.

    Two delimited listings deep, never more: `{prefix}` gives endpoints (or batch schedules),
    `{prefix}{name}/` gives schedules (or, for a batch schedule, years).
    """
    for first in _folders(s3, bucket, prefix):
        if first not in SKIPPED_FOLDERS:
            yield from _schedules_of(s3, bucket, prefix, first)


def _schedules_of(s3: S3Client, bucket: str, prefix: str, first: str) -> list[Schedule]:
    """The schedules in one first-level folder: its own (a batch schedule, whose children are years) or its children."""
    children = list(_folders(s3, bucket, f"{prefix}{first}/"))
    if any(_YEAR.match(child) for child in children):
        return [Schedule(None, first, f"{prefix}{first}/")]
    return [
        Schedule(first, child, f"{prefix}{first}/{child}/")
        for child in children
        if child not in SKIPPED_FOLDERS and not _UUID.match(child)
    ]


def iter_executions(
    s3: S3Client, bucket: str, prefix: str, night: date, account_id: str, region: str, *, max_workers: int = 1
) -> Iterator[Execution]:
    """Executions scheduled on `night` (UTC) under `s3://bucket/prefix`, listing only `.../yyyy/mm/dd/` per schedule.

    Each endpoint's folder is listed on one of `max_workers` threads: a fleet has hundreds, each two listings deep,
    and one after the other their round trips add up to seconds. The order is the folders' either way.
    """
    prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
    firsts = [first for first in _folders(s3, bucket, prefix) if first not in SKIPPED_FOLDERS]

    def executions_of(first: str) -> list[Execution]:
        schedules = _schedules_of(s3, bucket, prefix, first)
        return [e for schedule in schedules for e in _executions(s3, bucket, schedule, night, account_id, region)]

    with ThreadPoolExecutor(max(1, min(max_workers, len(firsts))), thread_name_prefix="monitor-list") as pool:
        for executions in pool.map(executions_of, firsts):
            yield from executions


def _executions(s3: S3Client, bucket: str, schedule: Schedule, night: date, account_id: str, region: str) -> list[Execution]:
    day_key = f"{schedule.key}{night:%Y/%m/%d}/"
    hours: dict[str, list[ReportObject]] = defaultdict(list)
    for item in _objects(s3, bucket, day_key):
        hour, _, name = item["Key"][len(day_key) :].partition("/")
        if not _HOUR.match(hour) or not name or name.endswith("/") or _skipped(name):
            continue
        hours[hour].append(ReportObject(bucket, item["Key"], int(item.get("Size", 0)), name))
    return [
        Execution(
            account_id,
            region,
            schedule.endpoint_name,
            schedule.schedule_name,
            datetime(night.year, night.month, night.day, int(hour)),
            f"s3://{bucket}/{day_key}{hour}/",
            tuple(sorted(objects, key=lambda o: o.name)),
        )
        for hour, objects in sorted(hours.items())
    ]


def _skipped(name: str) -> bool:
    parts = name.split("/")
    return parts[-1] in SKIPPED_FILES or parts[-1].endswith(".jsonl") or any(p in SKIPPED_FOLDERS for p in parts[:-1])


def _folders(s3: S3Client, bucket: str, prefix: str) -> Iterator[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        for common in page.get("CommonPrefixes", ()):
            yield common["Prefix"][len(prefix) :].rstrip("/")


def _objects(s3: S3Client, bucket: str, prefix: str) -> Iterator[Mapping[str, Any]]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


@dataclass(frozen=True)
class Fetched:
    """A report object's bytes, or why it was not read (too large, gone, forbidden)."""

    obj: ReportObject
    body: bytes | None
    error: str | None = None


def iter_report_bodies(
    s3: S3Client,
    objects: Sequence[ReportObject],
    *,
    max_workers: int,
    max_bytes: int,
    progress: Progress | None = None,
    done_before: int = 0,
    total: int | None = None,
    local: bool = False,
) -> Iterator[Fetched]:
    """Download `objects` with a bounded thread pool, yielding each as it completes (order not kept).

    Objects listed over `max_bytes` are refused without a download. At most 2 x `max_workers`
    bodies are in flight, so a slow consumer never holds a whole night in memory. `progress`
    gets (done, total); `done_before`/`total` let several calls share one bar. A read that keeps failing with a
    retriable error is tried again (`faults.unit_retries`, short waits when `local`) before the object is refused.
    """
    total = len(objects) + done_before if total is None else total
    done = done_before
    pending = iter(objects)
    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="monitor-fetch") as pool:
        running: set[Future[Fetched]] = set()
        while True:
            for obj in pending:
                running.add(pool.submit(_fetch, s3, obj, max_bytes, local))
                if len(running) >= 2 * max_workers:
                    break
            if not running:
                return
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                done += 1
                if progress:
                    progress(done, total)
                yield future.result()


def _fetch(s3: S3Client, obj: ReportObject, max_bytes: int, local: bool = False) -> Fetched:
    if obj.size > max_bytes:
        return Fetched(obj, None, f"{obj.size} bytes is over max_report_bytes ({max_bytes}); not downloaded")
    try:
        for attempt in unit_retries(f"report {obj.uri}", local=local):
            with attempt:
                body = s3.get_object(Bucket=obj.bucket, Key=obj.key)["Body"]
                data = body.read(max_bytes + 1)  # the object may have grown since it was listed
                body.close()
    except ClientError as error:
        return Fetched(obj, None, f"GetObject failed: {error.response.get('Error', {}).get('Code', 'error')}: {error}")
    except BotoCoreError as error:
        return Fetched(obj, None, f"GetObject failed: {type(error).__name__}: {error}")
    if len(data) > max_bytes:
        return Fetched(obj, None, f"over max_report_bytes ({max_bytes}) when read; not parsed")
    return Fetched(obj, bytes(data))


def fetch_one(s3: S3Client, uri: str, max_bytes: int, *, local: bool = False) -> Fetched:
    """One object by URI (a baseline constraints file), with the same size limit, retries and error handling."""
    bucket, key = split_s3_uri(uri)
    return _fetch(s3, ReportObject(bucket, key, 0, key.rsplit("/", 1)[-1]), max_bytes, local)


def objects_of(executions: Iterable[Execution]) -> list[ReportObject]:
    """Every report object worth downloading, in listing order."""
    return [obj for execution in executions for obj in execution.reports]
