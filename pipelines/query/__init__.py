"""Athena SQL everywhere: on Athena in AWS, on DuckDB over a local stack or an exported lake file (one QueryEngine each)."""

from __future__ import annotations

from pipelines.query.engine import QueryEngine
from pipelines.query.export import (
    ExportError,
    LakeFileEngine,
    copy_published_lake,
    export_duckdb,
    open_duckdb_file,
    write_duckdb_views,
)
from pipelines.query.local import LocalLakeEngine, open_lake, register_views, run_query
from pipelines.query.transpile import QueryError, UnsupportedQueryError, athena_to_duckdb

__all__ = [
    "ExportError",
    "LakeFileEngine",
    "LocalLakeEngine",
    "QueryEngine",
    "QueryError",
    "UnsupportedQueryError",
    "athena_to_duckdb",
    "copy_published_lake",
    "export_duckdb",
    "open_duckdb_file",
    "open_lake",
    "register_views",
    "run_query",
    "write_duckdb_views",
]
