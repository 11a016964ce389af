"""One run of a night at a time: a lock object in the lake, taken with S3's conditional write, with an expiry.

Two runs of the same night at once (a retry started while the first still runs, a person rerunning
by hand during the scheduled run) would both stage, audit and switch the same partitions and append
twice to the logs. The second one to arrive finds the lock and exits with a message naming the
holder. A run that died leaves its lock behind: a run on the same host takes it over at once when the
holder's process is gone; elsewhere, after LOCK_TTL (longer than a job may run), the next run takes it
over, again with a conditional write, so two late-comers cannot both win.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from pipelines.aws import Session
from pipelines.config import LakeConfig
from pipelines.errors import FatalError
from pipelines.faults import MISSING_OBJECT, error_code
from pipelines.lake.paths import split_s3_uri
from pipelines.logs import get_logger

log = get_logger(__name__)
LOCKS = "_locks"
LOCK_TTL = timedelta(hours=6)  # the stack's JobTimeoutMinutes defaults to 180


class NightLocked(FatalError):
    """Another run holds the night; says who, since when, and when the lock expires."""


def lock_uri(lake: LakeConfig, night: str) -> str:
    return f"s3://{lake.bucket}/{lake.prefix}{LOCKS}/night={night}.json"


@contextmanager
def night_lock(session: Session, lake: LakeConfig, night: str, run_id: str, ttl: timedelta = LOCK_TTL) -> Iterator[None]:
    """Hold night `night` for run `run_id` while the block runs; NightLocked when another live run holds it."""
    bucket, key = split_s3_uri(lock_uri(lake, night))
    s3 = session.client("s3")
    now = datetime.now(UTC)
    mine = {
        "run_id": run_id,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "acquired_at": now.isoformat(timespec="seconds"),
        "expires_at": (now + ttl).isoformat(timespec="seconds"),
    }
    body = json.dumps(mine).encode("utf-8")
    for attempt in range(2):  # the holder may let go between our refused write and our read of its lock: once more
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*", ContentType="application/json")
            break
        except ClientError as error:
            if not _precondition_failed(error):
                raise
        try:
            _take_over_if_expired(s3, bucket, key, body, night, now)
            break
        except ClientError as error:
            if attempt or error_code(error) not in MISSING_OBJECT:
                raise
    try:
        yield
    finally:
        _release(s3, bucket, key, run_id)


def _take_over_if_expired(s3: Any, bucket: str, key: str, body: bytes, night: str, now: datetime) -> None:
    held = s3.get_object(Bucket=bucket, Key=key)
    holder = json.loads(held["Body"].read())
    expires = datetime.fromisoformat(holder["expires_at"])
    dead = holder.get("host") == socket.gethostname() and not _alive(int(holder.get("pid", 0)))
    if expires > now and not dead:
        raise NightLocked(
            f"night {night} is being run by run {holder['run_id']} (on {holder['host']}, pid {holder['pid']}, since "
            f"{holder['acquired_at']}): wait for it to finish; if that run is dead, its lock expires at {holder['expires_at']} "
            f"(or delete s3://{bucket}/{key})"
        )
    try:  # only if nobody else took it over since we read it
        s3.put_object(Bucket=bucket, Key=key, Body=body, IfMatch=held["ETag"], ContentType="application/json")
    except ClientError as error:
        if _precondition_failed(error):
            raise NightLocked(f"night {night}: another run took over the expired lock of run {holder['run_id']} first") from error
        raise
    log.warning(
        "night_lock_taken_over",
        night=night,
        expired_run=holder["run_id"],
        expired_at=holder["expires_at"],
        reason="its process is gone" if dead else "expired",
    )


def _alive(pid: int) -> bool:
    """Whether process `pid` runs on this host (a lock's holder here that crashed need not be waited for)."""
    if pid <= 0:
        return True  # unknown: wait for the expiry
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def _release(s3: Any, bucket: str, key: str, run_id: str) -> None:
    """Delete the lock if it is still ours (a run that outlived its lock must not delete its successor's)."""
    try:
        holder = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        if holder.get("run_id") == run_id:
            s3.delete_object(Bucket=bucket, Key=key)
    except ClientError as error:  # the lock expires by itself; the night's outcome stands
        log.warning("night_lock_not_released", run_id=run_id, error=str(error))


def _precondition_failed(error: ClientError) -> bool:
    response = error.response
    # 409 ConditionalRequestConflict: another conditional write of the same key is in flight (it wins).
    code = str(response.get("Error", {}).get("Code"))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in ("PreconditionFailed", "412", "ConditionalRequestConflict") or status in (409, 412)
