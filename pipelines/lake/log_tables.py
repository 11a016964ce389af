"""Log tables (pipeline_runs, validation_results, source_rejections): every run adds a file; nothing is switched."""

from __future__ import annotations

import os
from collections.abc import Collection

import pyarrow as pa

from pipelines.aws import Session
from pipelines.config import LakeConfig
from pipelines.lake import catalog
from pipelines.lake.paths import log_folder, partition_folder, split_s3_uri
from pipelines.lake.schemas import TableSpec
from pipelines.lake.staging import read_table, upload_parquet


def append_log(session: Session, lake: LakeConfig, spec: TableSpec, dt: str, name: str, table: pa.Table) -> str:
    """Add one object to a log table's partition `dt` (created on first use); returns its URI.

    Log tables (pipeline_runs, validation_results) are not write-audit-published: their
    partition points at the whole `dt=D/` folder and every run adds a file, so the
    history of reruns, quarantines and releases stays queryable.
    """
    folder = log_folder(lake, spec.name, dt)
    uri = f"{folder}{name}.parquet"
    upload_parquet(session, table, uri)
    if catalog.partition_location(session, lake, spec.name, dt) is None:
        catalog.switch_partition(session, lake, spec.name, dt, folder)
    return uri


def read_log(session: Session, lake: LakeConfig, spec: TableSpec, dt: str) -> pa.Table:
    """Every object of a log table's partition `dt`."""
    return read_logs(session, lake, spec, [dt])[dt]


def read_logs(session: Session, lake: LakeConfig, spec: TableSpec, dts: Collection[str]) -> dict[str, pa.Table]:
    """`read_log` of each partition in `dts`, their objects found by one listing from the first partition to the
    last: a night's row bands read a week of the runs log, one request for its keys, not one per night. (Keys list in
    order: the listing starts at the first partition, under the prefix the partitions share, and stops past the last,
    however long the lake.)"""
    wanted = sorted(set(dts))
    if not wanted:
        return {}
    bucket, table_key = split_s3_uri(lake.table_uri(spec.name))
    start, stop = table_key + partition_folder(wanted[0]), table_key + partition_folder(wanted[-1])
    found: dict[str, list[str]] = {dt: [] for dt in wanted}
    shared = os.path.commonprefix([start, stop])  # one partition: its folder; a week: `dt=2026-11-`, say
    pages = session.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=shared, StartAfter=start)
    for page in pages:
        keys = [o["Key"] for o in page.get("Contents", [])]
        for key in keys:
            dt = key[len(table_key) :].removeprefix("dt=").split("/", 1)[0]
            if dt in found and key.endswith(".parquet"):
                found[dt].append(f"s3://{bucket}/{key}")
        if keys and keys[-1] > stop and not keys[-1].startswith(stop):
            break  # past the last partition wanted: the rest of the lake is not listed
    return {dt: read_table(session, sorted(uris), spec.schema) for dt, uris in found.items()}
