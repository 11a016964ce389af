"""Where everything lives in the lake's bucket: tables, partitions, run prefixes, quarantine, one file per account x region.

s3://<bucket>/<prefix><table>/dt=D/run=<run_id>/part-<account>-<region>.parquet   staged, then switched in
s3://<bucket>/<prefix><table>/dt=D/<name>.parquet                               log tables (every run adds)
s3://<bucket>/<prefix>_quarantine/<table>/dt=D/run=<run_id>/                     held back, with validation.json
s3://<bucket>/<prefix>_staging/dt=D/run=<run_id>/                                a run's working area: shard manifests,
                                                                                 the publish marker, the run summary
s3://<bucket>/<prefix>_trash/<table>/dt=D/run=<run_id>.json                     a replaced run prefix, deleted after the grace
"""

from __future__ import annotations

from pipelines.config import LakeConfig
from pipelines.errors import FatalError

QUARANTINE = "_quarantine"
STAGING = "_staging"
RUN = "run="


def split_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key) of `s3://bucket/key`; anything else is an error naming the text."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket:
        raise FatalError(f"not an S3 URI: {uri!r} (expected s3://bucket/prefix)")
    return bucket, key


def partition_folder(dt: str | None) -> str:
    """`dt=D/`, or nothing for an unpartitioned table."""
    return f"dt={dt}/" if dt is not None else ""


def run_prefix(lake: LakeConfig, table: str, dt: str | None, run_id: str) -> str:
    """The run-scoped prefix a table's data for `dt` is staged under before it is switched in."""
    return f"{lake.table_uri(table)}{partition_folder(dt)}{RUN}{run_id}/"


def log_folder(lake: LakeConfig, table: str, dt: str) -> str:
    """A log table's partition: every run adds a file, nothing is switched."""
    return f"{lake.table_uri(table)}{partition_folder(dt)}"


def quarantine_root(lake: LakeConfig, table: str | None = None) -> str:
    """Beside the tables, never under one: no reader's location includes it."""
    return f"s3://{lake.bucket}/{lake.prefix}{QUARANTINE}/{table + '/' if table else ''}"


def quarantine_prefix(lake: LakeConfig, table: str, dt: str | None, run_id: str) -> str:
    return f"{quarantine_root(lake, table)}{partition_folder(dt)}{RUN}{run_id}/"


def staging_prefix(lake: LakeConfig, night: str, run_id: str) -> str:
    """The run's working area: beside the tables, never under one, so no reader's location includes it."""
    return f"s3://{lake.bucket}/{lake.prefix}{STAGING}/dt={night}/{RUN}{run_id}/"


def run_of(location: str) -> str | None:
    """The run id of a run-scoped prefix (None: a location the pipeline did not make)."""
    stripped = location.rstrip("/")
    return stripped.rsplit(RUN, 1)[1] if f"/{RUN}" in stripped else None


def account_region_file(account_id: str, region: str) -> str:
    """The file one account x region owns in each partition, so a failed one's old file can ride along."""
    return f"part-{account_id}-{region}"
