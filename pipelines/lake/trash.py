"""Replaced partitions are deleted a grace period after the switch, not at it: a query planned before the switch
still reads the files it listed (Athena lists a partition's files when it plans, then reads them for up to its
timeout), so it returns the old partition whole instead of failing on files that vanished under it.

A switch records the prefix it replaced as an entry under `<prefix>_trash/`, named after the prefix
(`_trash/<table>/dt=D/run=R.json`); every night ends by emptying the entries older than GRACE, never deleting a
prefix that readers see again (a release may have switched it back in). The entries are few: one per partition
switched in the last night or two, so emptying lists a handful of objects, never the lake.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import awswrangler as wr
from botocore.exceptions import BotoCoreError, ClientError

from pipelines.aws import Session
from pipelines.config import LakeConfig
from pipelines.errors import PipelineError
from pipelines.lake import catalog
from pipelines.lake.paths import RUN, split_s3_uri
from pipelines.logs import get_logger

log = get_logger(__name__)
TRASH = "_trash"
# Longer than any query planned before a switch can run: Athena's default DML timeout is 30 minutes.
GRACE = timedelta(hours=1)


@dataclass(frozen=True)
class Replaced:
    """A prefix a switch replaced: readers may still be reading it until GRACE after `replaced_at`."""

    table: str
    dt: str | None
    location: str
    replaced_by: str
    replaced_at: datetime


def entry_uri(lake: LakeConfig, location: str) -> str:
    """The trash entry of a table's run prefix (`<prefix><table>/[dt=D/]run=R/` -> `<prefix>_trash/<table>/[dt=D/]run=R.json`)."""
    table_part = location.removeprefix(f"s3://{lake.bucket}/{lake.prefix}").rstrip("/")
    return f"s3://{lake.bucket}/{lake.prefix}{TRASH}/{table_part}.json"


def defer_delete(session: Session, lake: LakeConfig, replaced: Replaced) -> None:
    """Record that `replaced.location` was switched out; `empty_trash` deletes it after GRACE."""
    bucket, key = split_s3_uri(entry_uri(lake, replaced.location))
    body = {**replaced.__dict__, "replaced_at": replaced.replaced_at.isoformat(timespec="seconds")}
    session.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(body).encode(), ContentType="application/json")


def pending(session: Session, lake: LakeConfig, location: str) -> bool:
    """Whether `location` waits in the trash (readers may still read it: no sweep may delete it early)."""
    bucket, key = split_s3_uri(entry_uri(lake, location))
    return bool(session.client("s3").list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("KeyCount"))


def empty_trash(session: Session, lake: LakeConfig, now: datetime | None = None) -> list[str]:
    """Delete every replaced prefix whose grace is over (unless readers see it again) and its entry; returns them.

    A failure leaves the entry for the next night: this never fails a night.
    """
    now = now or datetime.now(UTC)
    s3 = session.client("s3")
    deleted: list[str] = []
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=lake.bucket, Prefix=f"{lake.prefix}{TRASH}/")
        # An entry is written at its switch: one modified within the grace is young, and is not even read.
        entries = [o for page in pages for o in page.get("Contents", []) if o["Key"].endswith(".json")]
        for bucket, key in ((lake.bucket, o["Key"]) for o in entries if o["LastModified"] <= now - GRACE):
            item = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            if datetime.fromisoformat(item["replaced_at"]) > now - GRACE:
                continue
            location = str(item["location"])
            current = _current(session, lake, item["table"], item.get("dt"))
            if (current or "").rstrip("/") != location.rstrip("/") and f"/{RUN}" in location:
                wr.s3.delete_objects(location, boto3_session=session)
                deleted.append(location)
            s3.delete_object(Bucket=bucket, Key=key)
    except (PipelineError, ClientError, BotoCoreError, ValueError, KeyError) as error:
        log.warning("trash_not_emptied", error=f"{type(error).__name__}: {error}", deleted=len(deleted))
    if deleted:
        log.info("trash_emptied", prefixes=deleted)
    return deleted


def _current(session: Session, lake: LakeConfig, table: str, dt: str | None) -> str | None:
    if dt is None:
        return catalog.table_location(session, lake, table)
    return catalog.partition_location(session, lake, table, dt)
