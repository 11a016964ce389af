"""What a reader pays: a 30-day question to the executive view over a year of nights, in bytes read.

The lake is the demo's (every source, one night and its lookback day), its last night copied on disk to 365 nights
in the lake's own layout (`<table>/dt=D/<account>-<region>.parquet`). The naive layout holds the same rows as one
JSON-lines object per table and night, unpartitioned, as an exporter that appends a file a night would leave it.
The same Athena SQL (`ml_business_daily` for the last 30 nights, transpiled to DuckDB as every local query is) runs
on both; DuckDB's profile says how many bytes each read. A second query asks one endpoint's metrics for one
night: Parquet statistics (rows land sorted by account, region and endpoint) let DuckDB skip row groups.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchmarks import Result, at_most, info

END = date(2026, 11, 20)
NIGHTS = 365
WINDOW = 30
TARGET_SHARE = 0.02
EXECUTIVE = "SELECT * FROM ml_business_daily WHERE dt BETWEEN '{first}' AND '{last}' ORDER BY 1, 2, 3"


def year_of_nights(demo: Path, lake: Path) -> list[str]:
    """The demo lake's last night as NIGHTS nights (hard links: no bytes copied); returns the nights."""
    catalog = json.loads((demo / "_catalog.json").read_text())
    nights = [(END - timedelta(days=i)).isoformat() for i in reversed(range(NIGHTS))]
    for name, table in catalog["tables"].items():
        source = demo / name
        if not table["partition_keys"]:
            _link_tree(source, lake / name)
            continue
        template = source / f"dt={END.isoformat()}"
        for night in nights if template.exists() else []:
            _link_tree(template, lake / name / f"dt={night}")
    (lake / "_catalog.json").write_text(json.dumps(catalog))
    return nights


def _link_tree(source: Path, target: Path) -> None:
    for path in source.rglob("*"):
        if path.is_file():
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, destination)


def naive_copy(lake: Path, naive: Path, nights: list[str]) -> int:
    """Every table's rows as one JSON-lines object per night (dt in each row), no partitions; returns the bytes."""
    import duckdb

    catalog = json.loads((lake / "_catalog.json").read_text())
    total = 0
    con = duckdb.connect()
    for name, table in catalog["tables"].items():
        folder = naive / name
        folder.mkdir(parents=True)
        files = sorted((lake / name).rglob("*.parquet"))
        if not files:
            continue
        template = folder / "template.jsonl"
        day = f"dt={END.isoformat()}"
        chosen = [str(f) for f in files if not table["partition_keys"] or day in f.parts]
        con.execute(f"COPY (SELECT * FROM read_parquet({chosen})) TO '{template}' (FORMAT json)")
        text = template.read_text()
        template.unlink()
        key = '"dt":"' + END.isoformat() + '"'
        for night in nights if table["partition_keys"] else [END.isoformat()]:
            body = text.replace(key, '"dt":"' + night + '"') if table["partition_keys"] else text
            (folder / f"{night}.jsonl").write_text(body)
            total += len(body.encode())
    return total


def naive_views(naive: Path, database_file: Path, catalog: dict[str, Any], views: dict[str, str]) -> None:
    """A DuckDB file whose tables read the naive JSON lines (with the contract's types) and the same views."""
    import duckdb

    from pipelines.query.export import duckdb_type
    from pipelines.query.local import register_views

    con = duckdb.connect(str(database_file))
    try:
        for name, table in catalog["tables"].items():
            columns = {c: duckdb_type(t) for c, t in [*table["columns"], *table["partition_keys"]]}
            spec = "{" + ", ".join(f"'{c}': '{t}'" for c, t in columns.items()) + "}"
            files = f"{(naive / name).as_posix()}/*.jsonl"
            if any((naive / name).glob("*.jsonl")):
                body = f"SELECT * FROM read_json('{files}', format='newline_delimited', columns={spec})"
            else:
                body = "SELECT " + ", ".join(f'CAST(NULL AS {t}) AS "{c}"' for c, t in columns.items()) + " WHERE false"
            con.execute(f'CREATE VIEW "{name}" AS {body}')
        register_views(con, views)
    finally:
        con.close()


def profiled(database_file: Path, sql: str, scratch: Path) -> tuple[list[tuple[Any, ...]], dict[str, Any]]:
    """Rows of Athena `sql` on a lake DuckDB file, and DuckDB's profile of the run (bytes read, row groups)."""
    import duckdb

    from pipelines.query.transpile import athena_to_duckdb

    profile = scratch / f"profile-{database_file.stem}.json"
    con = duckdb.connect(str(database_file), read_only=True)
    try:
        con.execute("PRAGMA enable_profiling='json'")
        con.execute(f"PRAGMA profiling_output='{profile}'")
        rows = con.execute(athena_to_duckdb(sql)).fetchall()
    finally:
        con.close()
    return rows, json.loads(profile.read_text())


def _scans(node: dict[str, Any]) -> list[dict[str, Any]]:
    found = [node] if node.get("type") == "TABLE_SCAN" else []
    for child in node.get("children", []):
        found += _scans(child)
    return found


def readers() -> list[Result]:
    from pipelines.demo.run import run_demo
    from pipelines.logs import configure_logging
    from pipelines.publish.views import load_views
    from pipelines.query.export import write_duckdb_views
    from pipelines.query.view_sql import order_views

    configure_logging("ERROR")  # the demo's stories warn by design (a KPI file it rejects): not news here
    with tempfile.TemporaryDirectory(prefix="bench-readers-") as folder:
        root = Path(folder)
        run_demo(END, days=1, out=root / "demo")
        lake = root / "year"
        nights = year_of_nights(root / "demo" / "lake", lake)
        views = order_views(load_views(), tables=None)
        write_duckdb_views(lake, root / "year.duckdb", views)
        naive_bytes = naive_copy(lake, root / "naive", nights)
        naive_views(root / "naive", root / "naive.duckdb", json.loads((lake / "_catalog.json").read_text()), views)

        question = EXECUTIVE.format(first=nights[-WINDOW], last=nights[-1])
        lake_rows, lake_profile = profiled(root / "year.duckdb", question, root)
        naive_rows, naive_profile = profiled(root / "naive.duckdb", question, root)
        endpoint = _an_endpoint(root / "year.duckdb")
        one = f"SELECT ts, metric_name, stat, value FROM cloudwatch_metrics WHERE dt = '{nights[-1]}' AND endpoint_name = '{endpoint}'"
        _, pruned = profiled(root / "year.duckdb", one, root)
        files = list((lake / "cloudwatch_metrics" / f"dt={nights[-1]}").glob("*.parquet"))
    lake_read, naive_read = lake_profile["io"]["total_bytes_read"], naive_profile["io"]["total_bytes_read"]
    scans = _scans({"children": pruned["operator"]})
    scanned = sum(s.get("row_groups_scanned", 0) for s in scans)
    to_scan = sum(s.get("total_row_groups_to_scan", 0) for s in scans)
    return [
        at_most(
            f"executive view, {WINDOW} of {NIGHTS} nights: bytes read / naive layout's",
            lake_read / max(naive_read, 1),
            "ratio",
            TARGET_SHARE,
        ),
        info("  bytes read, lake (Parquet, dt partitions)", lake_read / 1e6, "MB"),
        info("  bytes read, naive (JSON lines, a file a night)", naive_read / 1e6, f"MB of {naive_bytes / 1e6:,.0f} MB"),
        info("  same answer from both", float(lake_rows == naive_rows and len(lake_rows) > 0), "bool"),
        info(
            "one endpoint, one night: row groups read / in the night's files",
            scanned / max(to_scan, 1),
            f"({scanned} of {to_scan})",
        ),
        info("cloudwatch_metrics files per partition", float(len(files)), "files"),
    ]


def _an_endpoint(database_file: Path) -> str:
    import duckdb

    con = duckdb.connect(str(database_file), read_only=True)
    try:
        found = con.execute(
            "SELECT min(endpoint_name) FROM cloudwatch_metrics WHERE dt = (SELECT max(dt) FROM cloudwatch_metrics)"
        ).fetchone()
    finally:
        con.close()
    return str(found[0]) if found else ""


BENCHMARKS = (readers,)
