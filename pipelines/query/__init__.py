"""Athena SQL everywhere: on Athena in AWS, on DuckDB over a local stack or an exported lake file."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from pipelines.aws import Session, lake_session
from pipelines.config import Config
from pipelines.query.export import (
    ExportError,
    copy_published_lake,
    export_duckdb,
    open_duckdb_file,
    write_duckdb_views,
)
from pipelines.query.local import open_lake, register_views, run_query
from pipelines.query.transpile import QueryError, UnsupportedQueryError, athena_to_duckdb

__all__ = [
    "ExportError",
    "QueryError",
    "UnsupportedQueryError",
    "athena_to_duckdb",
    "copy_published_lake",
    "export_duckdb",
    "open_duckdb_file",
    "open_lake",
    "query",
    "register_views",
    "run_query",
    "write_duckdb_views",
]


def query(
    sql: str, *, config: Config | None = None, session: Session | None = None, duckdb_path: str | Path | None = None
) -> pa.Table:
    """Run Athena SQL where the data is: an exported DuckDB file, the local stack, or Athena."""
    if duckdb_path is not None:
        con = open_duckdb_file(duckdb_path)
    else:
        if config is None:
            raise QueryError("query needs a configuration (or a DuckDB file) to know which lake to read")
        session = session or lake_session(config.lake.region, config.endpoint_url)
        if not config.endpoint_url:
            from pipelines.query.athena import run_athena_query  # awswrangler is slow to import

            return run_athena_query(session, config.lake, sql)
        con = open_lake(session, config.lake)
    try:
        return run_query(con, sql)
    finally:
        con.close()
