"""Log tables (pipeline_runs, validation_results, source_rejections): every run adds a file; nothing is switched."""

from __future__ import annotations

import awswrangler as wr
import pyarrow as pa

from pipelines.aws import Session
from pipelines.config import LakeConfig
from pipelines.lake import catalog
from pipelines.lake.paths import log_folder
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
    folder = log_folder(lake, spec.name, dt)
    uris = sorted(wr.s3.list_objects(folder, suffix=".parquet", boto3_session=session))
    return read_table(session, uris, spec.schema)
