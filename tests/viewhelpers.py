"""The views of sql/ on an in-memory DuckDB over contract-shaped tables, for tests of views and of what reads them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import duckdb
import pyarrow as pa

from pipelines.lake.schemas import TABLES
from pipelines.publish.views import load_views
from pipelines.query.local import athena_columns, connect, register_views


def contract_table(name: str, rows: list[dict[str, Any]], defaults: Mapping[str, Any] | None = None) -> pa.Table:
    """Rows on table `name`'s contract schema (+ dt when partitioned); keys a row lacks come from `defaults`."""
    spec = TABLES[name]
    schema = spec.schema.append(pa.field("dt", pa.string(), nullable=False)) if spec.partitioned else spec.schema
    fill = defaults or {}
    return pa.Table.from_pylist([{f.name: row.get(f.name, fill.get(f.name)) for f in schema} for row in rows], schema)


def lake_with_views(
    inputs: Mapping[str, list[dict[str, Any]]] | None = None, defaults: Mapping[str, Any] | None = None
) -> duckdb.DuckDBPyConnection:
    """Every contract table (with `inputs`' rows, else empty) and every view of sql/ on them."""
    con = connect()
    for name in TABLES:
        con.register(name, contract_table(name, (inputs or {}).get(name, []), defaults))
    register_views(con, load_views())
    return con


def catalog_columns() -> dict[str, list[tuple[str, str]]]:
    """Every view's and table's columns as the Glue catalog would hold them (Athena types)."""
    con = lake_with_views()
    try:
        return {name: athena_columns(con, name) for name in [*TABLES, *load_views()]}
    finally:
        con.close()
