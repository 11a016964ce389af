"""Render a query result for people (table) or programs (csv, json)."""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.csv as pacsv
from rich.console import Console
from rich.table import Table


def _json_default(value: object) -> object:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot render {type(value).__name__}")


def render(table: pa.Table, fmt: str) -> str:
    """`table`: aligned columns; `csv`: header + rows; `json`: one array of objects."""
    if fmt == "csv":
        sink = pa.BufferOutputStream()
        simple = pa.table({name: _csv_column(table.column(name)) for name in table.column_names})
        pacsv.write_csv(simple, sink)
        return bytes(sink.getvalue().to_pybytes()).decode("utf-8")
    if fmt == "json":
        return json.dumps(table.to_pylist(), default=_json_default, indent=1) + "\n"
    if fmt == "table":
        grid = Table(*table.column_names, show_lines=False)
        for row in table.to_pylist():
            grid.add_row(*("" if v is None else str(v) for v in row.values()))
        console = Console(file=io.StringIO(), width=max(80, 16 * len(table.column_names)), force_terminal=False)
        console.print(grid)
        console.print(f"{table.num_rows} rows")
        return console.file.getvalue()  # type: ignore[attr-defined]
    raise ValueError(f"unknown format {fmt!r}: table, csv or json")


def _csv_column(column: pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    # CSV has no nested types: maps and lists are written as JSON text.
    if pa.types.is_nested(column.type):
        return pa.array(
            [None if v is None else json.dumps(_plain(v), default=_json_default) for v in column.to_pylist()], pa.string()
        )
    return column


def _plain(value: object) -> object:
    if isinstance(value, list) and all(isinstance(v, tuple) and len(v) == 2 for v in value):
        return dict(value)  # a map arrives as a list of (key, value) pairs
    return value
