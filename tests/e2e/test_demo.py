"""The demo path as a user runs it: `mlmon demo` leaves a queryable lake after the stack is gone."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.demo.fleet_stories import PROMISED
from tests.e2e.conftest import DEMO_END

pytestmark = pytest.mark.e2e


def test_demo_leaves_summary_lake_and_duckdb(demo_out: Path) -> None:
    summary = json.loads((demo_out / "summary.json").read_text())
    assert (summary["seed"], summary["end"], summary["nights"]) == (7, DEMO_END, ["2026-11-22", "2026-11-23", DEMO_END])
    assert {s["kind"] for s in summary["stories"]} == set(PROMISED) and summary["left_out"] == []
    # One night's export is duplicated on purpose (the duplicated_export story): the audit holds back its two partitions.
    bad_night = next(s["start"][:10] for s in summary["stories"] if s["kind"] == "duplicated_export")
    assert summary["nights_ok"] == 2 and len(summary["quarantined"]) == 2
    assert all(q.startswith(f"night {bad_night}: cloudwatch_metrics") for q in summary["quarantined"])
    assert "expect_compound_columns_to_be_unique" in summary["quarantined"][0]
    assert (demo_out / "data_docs" / "index.html").exists()
    assert summary["rows_per_table"]["cloudwatch_metrics"] > 0
    assert summary["api_calls"]["CloudWatch.GetMetricData"] >= 4  # 4 sources x 3 nights at least one call each
    assert summary["cloudwatch_cost_usd"] > 0
    text = (demo_out / "summary.txt").read_text()
    assert text.startswith("demo: 3 nights") and f"--seed 7 --days 3 --end {DEMO_END}" in text and "left out" not in text
    assert list((demo_out / "lake" / "cloudwatch_metrics").glob("dt=*/**/*.parquet"))


def test_lake_duckdb_answers_without_the_stack(demo_out: Path) -> None:
    con = duckdb.connect(str(demo_out / "lake.duckdb"), read_only=True)
    per_dt = con.execute("select dt, count(*) from cloudwatch_metrics group by dt order by dt").fetchall()
    summary = json.loads((demo_out / "summary.json").read_text())
    # Three nights with one day of lookback publish four partitions; the quarantined night's day
    # is republished by the next night's lookback, so no day is missing.
    assert [row[0] for row in per_dt][-3:] == summary["nights"]
    duplicates = con.execute(
        "select count(*) from (select account_id, region, namespace, metric_name, endpoint_name, stat, ts, count(*) as n "
        "from cloudwatch_metrics group by all having count(*) > 1)"
    ).fetchone()[0]
    assert duplicates == 0
    assert sum(n for _, n in per_dt) == summary["rows_per_table"]["cloudwatch_metrics"]
    endpoints = con.execute("select count(*), count(distinct business_unit) from endpoints").fetchone()
    assert endpoints[0] >= 6 and endpoints[1] >= 2
    accounts = con.execute("select count(distinct account_id), count(distinct region) from cloudwatch_metrics").fetchone()
    assert accounts == (2, 2)


def test_mlmon_query_on_the_duckdb_file(demo_out: Path) -> None:
    sql = (
        "select endpoint_name, max(value) / 1000.0 as p99_ms from cloudwatch_metrics "
        "where metric_name = 'ModelLatency' and stat = 'p99' group by 1 order by 2 desc limit 3"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pipelines", "query", "--duckdb", str(demo_out / "lake.duckdb"), "--format", "json", sql],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert len(rows) == 3 and rows[0]["p99_ms"] >= rows[1]["p99_ms"] > 1.0


def test_demo_lands_every_source(demo_out: Path) -> None:
    con = duckdb.connect(str(demo_out / "lake.duckdb"), read_only=True)
    counts = {
        t: con.execute(f"select count(*) from {t}").fetchone()[0]
        for t in (
            "monitor_executions",
            "monitor_feature_statistics",
            "model_quality_metrics",
            "bias_metrics",
            "feature_attributions",
            "business_kpis",
            "endpoint_models",
            "endpoint_log_patterns",
            "source_rejections",
        )
    }
    assert all(n > 0 for n in counts.values()), counts
    versions = con.execute(
        "select dt, model_version from endpoint_models where endpoint_name = 'fraud-detector-prod' order by dt"
    ).fetchall()
    assert [v for _, v in versions] == sorted(v for _, v in versions) and len({v for _, v in versions}) == 2
    units = con.execute("select count(distinct business_unit), count(distinct kpi_name) from business_kpis").fetchone()
    assert units == (3, 4)
    reasons = [r[0] for r in con.execute("select reason from source_rejections").fetchall()]
    assert any("is not a number" in r for r in reasons) and any("JSON" in r for r in reasons)


def test_demo_deploys_the_report_and_leaves_its_preview(demo_out: Path) -> None:
    summary = json.loads((demo_out / "summary.json").read_text())
    # data source, row-access rules + 9 datasets on views and tables, their 10 refresh schedules, analysis, dashboard
    assert summary["quicksight_assets"] == {"created": 23}
    assert summary["spice_ingestions"] > 0  # the nights after the deploy refreshed what they changed
    # alarms for the endpoints lineage saw on the first night, the Model Monitor rule, the dashboard: all new
    assert list(summary["alarms"]) == ["created"] and summary["alarms"]["created"] > 10
    page = (demo_out / "dashboard.html").read_text()
    assert summary["report"] == str(demo_out / "dashboard.html")
    assert "<title>ML performance and business impact</title>" in page
    analysis = json.loads((Path(__file__).parents[2] / "quicksight" / "analysis.json").read_text())
    for sheet in analysis["Definition"]["Sheets"]:
        for visual in sheet["Visuals"]:
            assert f'data-visual-id="{next(iter(visual.values()))["VisualId"]}"' in page
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=\"https?:", page)  # offline: nothing fetched


def test_the_rightsizing_sheet_has_something_to_say(demo_out: Path) -> None:
    con = duckdb.connect(str(demo_out / "lake.duckdb"), read_only=True)
    flagged = con.execute(
        "select endpoint_name, recommendation from endpoint_rightsizing where recommendation <> 'ok' group by 1, 2 order by 1"
    ).fetchall()
    assert flagged == [("churn-predictor-prod", "upsize"), ("price-optimizer-eu", "downsize")]


# What must never be written anywhere: access key ids, the emulator's session tokens, signed-URL parts, secret keys.
SECRETS = re.compile(
    rb"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b|FQoGZXIvYXdzE|X-Amz-(?:Signature|Credential|Security-Token)"
    rb"|(?i:aws_secret_access_key|secretaccesskey|sessiontoken)\W{0,3}[:=]"
)


def _secret(path: Path, scanner: duckdb.DuckDBPyConnection) -> str | None:
    """The first secret a file holds. Parquet and DuckDB pages are compressed: their rows are matched as JSON, in
    DuckDB (RE2 in C++; Python's re over the same text took ~30 s for the demo's lake); other files byte for byte.
    `scanner` reads the Parquet files, one connection for all (one each tripled the scan)."""

    def first(con: duckdb.DuckDBPyConnection, source: str, **params: str) -> str | None:
        found = con.execute(
            f"select regexp_extract(j, $secret) from (select to_json(t)::varchar as j from {source} t) "
            "where regexp_matches(j, $secret) limit 1",
            {"secret": SECRETS.pattern.decode(), **params},
        ).fetchall()
        return found[0][0] if found else None

    if path.suffix == ".parquet":
        return first(scanner, "read_parquet($path)", path=str(path))
    if path.suffix == ".duckdb":
        with duckdb.connect(str(path), read_only=True) as con:
            names = [r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()]
            return next((hit for name in names if (hit := first(con, f'"{name}"'))), None)
    return m.group().decode(errors="replace") if (m := SECRETS.search(path.read_bytes())) else None


def test_nothing_a_demo_writes_holds_a_credential(demo_out: Path, tmp_path: Path) -> None:
    """Every file under the demo's folder (the lake copy, lake.duckdb, Data Docs, the report page, the summary) and
    what it printed: no AWS key id, session token, secret or signed-URL part of the local stack's credentials."""
    # The scan sees each kind in a nested value of a compressed page (RE2 in DuckDB, not Python's re, reads those).
    for secret, seen in (('x "SessionToken": "y"', "SessionToken"), ("key=ASIA8NWMTLYQABCDEFGH&", "ASIA8NWMTLYQABCDEFGH")):
        planted = tmp_path / f"planted-{seen}.parquet"
        pairs = [[("k", "ok")], [("k", secret)]]
        pq.write_table(pa.table({"m": pa.array(pairs, pa.map_(pa.string(), pa.string()))}), planted)
        with duckdb.connect() as scanner:
            assert seen in (_secret(planted, scanner) or ""), secret
    files = [p for p in demo_out.parent.rglob("*") if p.is_file()]
    kinds = {p.suffix for p in files}
    assert {".parquet", ".duckdb", ".html", ".json", ".stdout", ".stderr"} <= kinds and len(files) > 50
    with duckdb.connect() as scanner:
        found = {str(p.relative_to(demo_out.parent)): hit for p in files if (hit := _secret(p, scanner))}
    assert found == {}
