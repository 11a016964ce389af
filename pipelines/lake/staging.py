"""Write-audit-publish on S3: stage Parquet under a run-scoped prefix, then switch the partition."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import awswrangler as wr
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.aws import Session
from pipelines.config import LakeConfig
from pipelines.lake import catalog
from pipelines.lake.paths import run_of, run_prefix, split_s3_uri
from pipelines.lake.schemas import TableSpec
from pipelines.lake.trash import Replaced, defer_delete, pending
from pipelines.logs import get_logger

log = get_logger(__name__)
# Longer than a job may run (the stack's JobTimeoutMinutes defaults to 180): a run this much older has ended.
ABANDONED_AFTER = timedelta(hours=6)


def parquet_bytes(table: pa.Table) -> bytes:
    """Typed zstd Parquet, written by pyarrow so the contract's types survive (no pandas round trip)."""
    # An Arrow buffer, not io.BytesIO: pyarrow 25 can abort at exit after threaded BytesIO I/O.
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", row_group_size=1 << 20, use_dictionary=True)
    return bytes(sink.getvalue().to_pybytes())


Encoder = Callable[[pa.Table], bytes]


def upload_parquet(session: Session, table: pa.Table, uri: str, encode: Encoder = parquet_bytes) -> int:
    """Upload `table` as one Parquet object at `uri` (awswrangler does the transfer); returns bytes."""
    body = encode(table)
    wr.s3.upload(local_file=io.BytesIO(body), path=uri, boto3_session=session)
    return len(body)


@dataclass(frozen=True)
class StagedPartition:
    """One table's staged data for one partition: complete, unpublished, ready for the audit."""

    table: str
    dt: str | None
    run_id: str
    uri: str
    files: tuple[str, ...]
    rows: int


@dataclass(frozen=True)
class Switched:
    """What a partition switch did: where readers look now and what was replaced."""

    table: str
    dt: str | None
    location: str
    previous: str | None
    rows: int


@dataclass
class Stager:
    """Collects one run's files for one table, partition by partition (one file per source)."""

    session: Session
    lake: LakeConfig
    spec: TableSpec
    run_id: str
    encode: Encoder = parquet_bytes  # a table may bring its own encoding (dictionary columns, row groups)
    _files: dict[str | None, list[str]] = field(default_factory=dict)
    _rows: dict[str | None, int] = field(default_factory=dict)

    def add(self, dt: str | None, name: str, table: pa.Table) -> str:
        """Stage `table` as file `name` of partition `dt` (schema checked against the contract)."""
        self._check(table.schema)
        return self._put(dt, name, self.encode(table), table.num_rows)

    def add_parquet(self, dt: str | None, name: str, body: bytes, rows: int) -> str:
        """Stage a Parquet body already written (streamed) in the contract's schema as file `name` of partition `dt`."""
        self._check(pq.read_schema(pa.BufferReader(body)))
        return self._put(dt, name, body, rows)

    def _check(self, schema: pa.Schema) -> None:
        if not schema.equals(self.spec.schema, check_metadata=False):
            raise TypeError(f"{self.spec.name}: staged schema differs from the contract:\n{schema}")

    def _put(self, dt: str | None, name: str, body: bytes, rows: int) -> str:
        uri = f"{run_prefix(self.lake, self.spec.name, dt, self.run_id)}{name}.parquet"
        wr.s3.upload(local_file=io.BytesIO(body), path=uri, boto3_session=self.session)
        self._files.setdefault(dt, []).append(uri)
        self._rows[dt] = self._rows.get(dt, 0) + rows
        return uri

    def carry_over(self, dt: str, names: list[str]) -> list[str]:
        """Copy the published files `names` of partition `dt` into this run unchanged.

        A source that failed tonight must not erase what was published for it before:
        its previous files ride along into the new partition.
        """
        previous = catalog.partition_location(self.session, self.lake, self.spec.name, dt)
        if previous is None:
            return []
        existing = set(wr.s3.list_objects(previous, boto3_session=self.session))
        wanted = [f"{previous.rstrip('/')}/{name}.parquet" for name in names]
        sources = [uri for uri in wanted if uri in existing]
        if not sources:
            return []
        target = run_prefix(self.lake, self.spec.name, dt, self.run_id)
        copied = wr.s3.copy_objects(sources, source_path=previous, target_path=target, boto3_session=self.session)
        rows = parquet_rows(self.session, copied)
        self._files.setdefault(dt, []).extend(copied)
        self._rows[dt] = self._rows.get(dt, 0) + rows
        return list(copied)

    def staged(self) -> list[StagedPartition]:
        return [
            StagedPartition(
                self.spec.name,
                dt,
                self.run_id,
                run_prefix(self.lake, self.spec.name, dt, self.run_id),
                tuple(files),
                self._rows[dt],
            )
            for dt, files in sorted(self._files.items(), key=lambda item: item[0] or "")
        ]


def parquet_rows(session: Session, uris: list[str]) -> int:
    """Rows in these Parquet objects, from their footers."""
    return sum(pq.read_metadata(pa.BufferReader(read_bytes(session, uri))).num_rows for uri in uris)


def read_bytes(session: Session, uri: str) -> bytes:
    bucket, key = split_s3_uri(uri)
    return bytes(session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def switch(session: Session, lake: LakeConfig, staged: StagedPartition) -> Switched:
    """Make staged data visible in one catalog update; the replaced prefix goes to the trash (`lake/trash.py`), so
    queries planned before the switch still read it whole, and is deleted after the grace."""
    if staged.dt is None:
        previous: str | None = catalog.switch_table_location(session, lake, staged.table, staged.uri)
    else:
        previous = catalog.switch_partition(session, lake, staged.table, staged.dt, staged.uri)
    if previous and previous.rstrip("/") != staged.uri.rstrip("/") and run_of(previous) is not None:
        # Only run-scoped prefixes are ours to delete; a hand-made location is left alone.
        replaced = Replaced(staged.table, staged.dt, previous.rstrip("/") + "/", staged.run_id, datetime.now(UTC))
        defer_delete(session, lake, replaced)
    sweep_abandoned(session, staged, lake)
    return Switched(staged.table, staged.dt, staged.uri, previous, staged.rows)


def sweep_abandoned(session: Session, staged: StagedPartition, lake: LakeConfig) -> list[str]:
    """Delete the partition's run prefixes staged by runs that ended without switching them in (a crash, a failed
    publish step); returns them. Only runs that started ABANDONED_AFTER before this one: a run still going is not
    touched, nor a replaced prefix waiting out its grace in the trash. No lifecycle rule can find these (they sit
    beside published data); versioning keeps them a while."""
    folder = staged.uri.rstrip("/").rsplit("/", 1)[0] + "/"
    swept = sweep_runs(session, folder, staged.run_id, keep=lambda uri: pending(session, lake, uri))
    if swept:
        log.info("swept_abandoned_runs", table=staged.table, dt=staged.dt, prefixes=swept)
    return swept


def sweep_runs(session: Session, folder: str, run_id: str, *, keep: Callable[[str], bool] | None = None) -> list[str]:
    """Delete the run prefixes (`run=<id>/`) directly under `folder` of runs that started ABANDONED_AFTER before run
    `run_id`, except those `keep(uri)` wants kept and names that are not ours; returns the prefixes deleted."""
    started = run_started(run_id)
    if started is None:
        return []
    bucket, key = split_s3_uri(folder)
    pages = session.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key, Delimiter="/")
    swept = []
    for prefix in (p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])):
        run = run_of(prefix)
        other = run_started(run) if run else None
        uri = f"s3://{bucket}/{prefix}"
        if run != run_id and other is not None and other < started - ABANDONED_AFTER and not (keep and keep(uri)):
            wr.s3.delete_objects(uri, boto3_session=session)
            swept.append(uri)
    return swept


def run_started(run_id: str) -> datetime | None:
    """When a run began, from its id (`YYYYMMDDTHHMMSSZ-...`, pipelines.nightly.new_run_id); None for another shape."""
    try:
        return datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def discard(session: Session, staged: StagedPartition) -> None:
    """Delete staged data that will not be published."""
    wr.s3.delete_objects(staged.uri, boto3_session=session)


def read_table(session: Session, uris: list[str], schema: pa.Schema) -> pa.Table:
    """Read Parquet objects back with the contract schema (used for small tables and checks)."""
    tables = [pq.read_table(pa.BufferReader(read_bytes(session, uri)), schema=schema) for uri in uris]
    return pa.concat_tables(tables) if tables else schema.empty_table()
