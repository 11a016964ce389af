"""`mlmon quicksight preview` on a small lake: every visual drawn with the definition's aggregations, filters and top-N."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import time
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from pipelines.publish.quicksight.assets import QUICKSIGHT_DIR
from pipelines.publish.quicksight.preview import (
    CalculatedFieldError,
    MissingViewError,
    UnsupportedDefinitionError,
    render_preview,
)
from pipelines.query.export import LakeFileEngine, export_duckdb
from tests.viewhelpers import lake_with_views

NOW = datetime(2026, 11, 25, 6, 30, tzinfo=UTC)  # the window is 2026-10-26 .. 2026-11-25
FIRST, LAST = date(2026, 10, 16), date(2026, 11, 24)
DAYS = [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)]
IN_WINDOW = [d for d in DAYS if d >= date(2026, 10, 26)]
FUTURE = date(2026, 11, 27)  # after the window: must not count either
HUGE = 1e9  # revenue of the future day: any leak shows (days before the window feed incident baselines, rightly)
UNITS = {"fraud-prod": "Payments", "search-prod": "Marketplace", "recommender-prod": "Growth", "lead-scorer": "Growth"}
BASE_REVENUE = {"Payments": 50_000.0, "Marketplace": 120_000.0, "Growth": 20_000.0}
BURSTS = {date(2026, 11, 20), date(2026, 10, 20)}  # recommender 12% 5xx: an incident (the second outside the window)
FEATURES = {f"feature_{n:02d}": n for n in range(1, 19)}  # feature -> violation rows inside the window
SHAP = {f"attr_{n:02d}": n / 100 for n in range(1, 13)}
REPO_OUT = Path(__file__).resolve().parents[2] / "out"


def _revenue(unit: str, day: date) -> float:
    if day > LAST:
        return HUGE
    return BASE_REVENUE[unit] + 100.0 * (day - FIRST).days + (3_000.0 if day.weekday() == 0 else 0.0)


def _kpi_rows() -> list[dict[str, Any]]:
    rows = []
    for day in [*DAYS, FUTURE]:
        for unit in BASE_REVENUE:
            kpis = {"revenue": _revenue(unit, day), "orders": _revenue(unit, day) / 50, "conversion_rate": 0.03}
            rows += [{"business_unit": unit, "kpi_name": k, "value": v, "dt": day.isoformat()} for k, v in kpis.items()]
    return rows


def _errors(endpoint: str, day: date) -> float:
    return 120.0 if endpoint == "recommender-prod" and day in BURSTS else 1.0 + day.day % 3


def _metric_rows() -> list[dict[str, Any]]:
    rows = []
    for day in DAYS:
        for i, endpoint in enumerate(UNITS):
            series = {
                ("AWS/SageMaker", "Invocations", "Sum"): 1000.0 + 10 * i,
                ("AWS/SageMaker", "Invocation5XXErrors", "Sum"): _errors(endpoint, day),
                ("AWS/SageMaker", "Invocation4XXErrors", "Sum"): 2.0 + i,
                ("AWS/SageMaker", "ModelLatency", "p99"): 100_000.0 + 5_000 * i + 1_000 * (day.day % 5),
                ("AWS/SageMaker", "ModelLatency", "p90"): 60_000.0 + 4_000 * i,
                ("AWS/SageMaker", "ModelLatency", "p50"): 30_000.0 + 2_000 * i,
                ("AWS/SageMaker", "OverheadLatency", "p99"): 5_000.0 + 500 * i,
                ("/aws/sagemaker/Endpoints", "CPUUtilization", "Average"): 20.0 + 10 * i + day.day % 4,
                ("/aws/sagemaker/Endpoints", "CPUUtilization", "Maximum"): 60.0 + 10 * i,
                ("/aws/sagemaker/Endpoints", "MemoryUtilization", "Average"): 30.0 + 5 * i,
            }
            for (namespace, metric, stat), value in series.items():
                rows.append(
                    {
                        "namespace": namespace,
                        "metric_name": metric,
                        "endpoint_name": endpoint,
                        "variant_name": "AllTraffic",
                        "stat": stat,
                        "period_seconds": 300,
                        "ts": datetime(day.year, day.month, day.day, 12),
                        "value": value,
                        "unit": "None",
                        "dt": day.isoformat(),
                    }
                )
    return rows


def _model_rows() -> list[dict[str, Any]]:
    rows = []
    for day in DAYS:
        for i, endpoint in enumerate(UNITS):
            version = 8 if endpoint == "fraud-prod" and day >= date(2026, 11, 15) else 7
            rows.append(
                {
                    "endpoint_name": endpoint,
                    "endpoint_status": "InService",
                    "variant_name": "AllTraffic",
                    "instance_type": ["ml.m5.large", "ml.c5.xlarge", "ml.g4dn.xlarge", "ml.m5.xlarge"][i],
                    "instance_count": 1 + i % 2,
                    "model_name": f"{endpoint}-model",
                    "model_version": version,
                    "observed_at": datetime(day.year, day.month, day.day, 23),
                    "dt": day.isoformat(),
                }
            )
    return rows


def _monitor_rows() -> dict[str, list[dict[str, Any]]]:
    executions, violations, quality, attributions = [], [], [], []
    counted = [*((name, n, IN_WINDOW[n]) for name, n in FEATURES.items()), ("feature_outside", 100, date(2026, 10, 18))]
    for name, count, day in counted:
        run = {
            "endpoint_name": "fraud-prod",
            "schedule_name": "fraud-dq",
            "monitoring_type": "DataQuality",
            "scheduled_hour": datetime(day.year, day.month, day.day, 3),
            "source_uri": f"s3://reports/{name}/",
            "dt": day.isoformat(),
        }
        executions.append({**run, "violation_count": count, "report_files": "[]"})
        check = "baseline_drift_check" if count % 2 else "data_type_check"
        violations += [{**run, "feature_name": name, "constraint_check_type": check, "description": str(k)} for k in range(count)]
    for day in IN_WINDOW:
        hour = datetime(day.year, day.month, day.day, 4)
        auc = 0.95 - 0.005 * (day - IN_WINDOW[0]).days
        quality.append(
            {
                "endpoint_name": "fraud-prod",
                "schedule_name": "fraud-mq",
                "monitoring_type": "ModelQuality",
                "scheduled_hour": hour,
                "problem_type": "BinaryClassification",
                "metric_name": "auc",
                "value": auc,
                "threshold": 0.85,
                "comparison_operator": "LessThanThreshold",
                "source_uri": f"s3://reports/mq/{day}",
                "dt": day.isoformat(),
            }
        )
    for name, shap in SHAP.items():
        day = LAST
        attributions.append(
            {
                "endpoint_name": "fraud-prod",
                "schedule_name": "fraud-fa",
                "monitoring_type": "ModelExplainability",
                "scheduled_hour": datetime(day.year, day.month, day.day, 5),
                "label": "label0",
                "feature_name": name,
                "shap_value": shap,
                "source_uri": "s3://reports/fa/",
                "dt": day.isoformat(),
            }
        )
    return {
        "monitor_executions": executions,
        "monitor_violations": violations,
        "model_quality_metrics": quality,
        "feature_attributions": attributions,
    }


@dataclass
class CountingEngine:
    """LakeFileEngine over the test lake, counting the queries it runs."""

    engine: LakeFileEngine
    queries: list[str] = field(default_factory=list)

    def run(self, sql: str) -> pa.Table:
        self.queries.append(sql)
        return self.engine.run(sql)

    def reading(self) -> Any:
        return nullcontext(self)

    def create_views(self, views: Any, names: Any) -> None:
        raise AssertionError("the preview never creates views")


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    inputs = {
        "business_kpis": _kpi_rows(),
        "cloudwatch_metrics": _metric_rows(),
        "endpoints": [{"endpoint_name": e, "business_unit": u} for e, u in UNITS.items()],
        "endpoint_models": _model_rows(),
        **_monitor_rows(),
    }
    con = lake_with_views(inputs, {"account_id": "111111111111", "region": "us-east-1", "source_uri": "s3://kpis/x.csv"})
    path = tmp_path_factory.mktemp("lake") / "lake.duckdb"
    try:
        export_duckdb(con, path)
    finally:
        con.close()
    return path


@pytest.fixture(scope="module")
def analysis() -> dict[str, Any]:
    return json.loads((QUICKSIGHT_DIR / "analysis.json").read_text(encoding="utf-8"))


@dataclass
class Rendered:
    path: Path
    html: str
    queries: list[str]
    page: Page


@pytest.fixture(scope="module")
def rendered(lake: Path, analysis: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    engine = CountingEngine(LakeFileEngine(lake))
    path = render_preview(analysis, QUICKSIGHT_DIR, engine, tmp_path_factory.mktemp("preview") / "new", now=NOW)
    html = path.read_text(encoding="utf-8")
    page = Page()
    page.feed(html)
    return Rendered(path, html, engine.queries, page)


class Page(HTMLParser):
    """The visuals of the page: attributes, text, and the rows of their tables (the folded Data table for charts)."""

    def __init__(self) -> None:
        super().__init__()
        self.visuals: dict[str, dict[str, Any]] = {}
        self._current: dict[str, Any] | None = None
        self._depth = 0
        self._cell: list[str] | None = None
        self._script_src: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and found.get("src"):
            self._script_src.append(str(found["src"]))
        if tag == "div" and "data-visual-id" in found:
            self._current = {"attrs": found, "text": [], "rows": [], "charts": []}
            self.visuals[str(found["data-visual-id"])] = self._current
            self._depth = 0
        if self._current is None:
            return
        if tag == "div":
            self._depth += 1
            if "chart" in (found.get("class") or ""):
                self._current["charts"].append(found.get("id"))
        elif tag == "tr":
            self._current["rows"].append([])
        elif tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if self._current is None:
            return
        if tag == "td" and self._cell is not None:
            self._current["rows"][-1].append("".join(self._cell))
            self._cell = None
        if tag == "div":
            self._depth -= 1
            if self._depth == 0:
                self._current = None

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._current["text"].append(data)
            if self._cell is not None:
                self._cell.append(data)

    def text(self, visual_id: str) -> str:
        return " ".join(self.visuals[visual_id]["text"])

    def rows(self, visual_id: str) -> list[list[str]]:
        return [r for r in self.visuals[visual_id]["rows"] if r]


def _visual_ids(analysis: dict[str, Any]) -> list[str]:
    return [next(iter(v.values()))["VisualId"] for s in analysis["Definition"]["Sheets"] for v in s["Visuals"]]


def test_every_visual_of_the_definition_is_on_the_page_once(rendered: Rendered, analysis: dict[str, Any]) -> None:
    ids = _visual_ids(analysis)
    assert len(ids) == 31
    assert sorted(rendered.page.visuals) == sorted(ids)
    assert Counter(re.findall(r'data-visual-id="([^"]+)"', rendered.html)) == Counter(ids)
    assert rendered.path.name == "dashboard.html"
    assert "<title>ML performance and business impact</title>" in rendered.html
    for sheet in analysis["Definition"]["Sheets"]:
        assert f'data-sheet-id="{sheet["SheetId"]}"' in rendered.html


def test_one_query_per_visual_plus_one_probe_per_dataset(rendered: Rendered) -> None:
    probes = [q for q in rendered.queries if re.search(r"LIMIT 0\s*$", q)]
    assert len(probes) == 9  # every declared dataset is used by some visual
    assert len(rendered.queries) - len(probes) == 31


def test_the_page_works_offline(rendered: Rendered) -> None:
    assert rendered.page._script_src == []
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=\"https?:", rendered.html)
    assert rendered.html.count("Plotly.newPlot") == 1  # the one drawing loop; plotly.js itself is inlined once
    assert rendered.html.count("plotly.js v") <= 2


def test_revenue_kpi_is_the_last_day_against_the_day_before(rendered: Rendered) -> None:
    last, before = LAST, LAST - timedelta(days=1)
    value = sum(_revenue(u, last) for u in BASE_REVENUE)
    previous = sum(_revenue(u, before) for u in BASE_REVENUE)
    attrs = rendered.page.visuals["exec-revenue"]["attrs"]
    assert attrs["data-day"] == last.isoformat()
    assert float(attrs["data-value"]) == pytest.approx(value)
    assert float(attrs["data-previous"]) == pytest.approx(previous)
    assert float(attrs["data-change"]) == pytest.approx((value - previous) / previous)
    text = rendered.page.text("exec-revenue")
    assert f"${value:,.0f}" in text
    assert f"{(value - previous) / previous * 100:+.2f}%" in text


def test_the_calculated_5xx_rate_is_a_ratio_of_sums(rendered: Rendered) -> None:
    errors = sum(_errors(e, LAST) for e in UNITS)
    invocations = sum(1000.0 + 10 * i for i in range(len(UNITS)))
    attrs = rendered.page.visuals["exec-5xx"]["attrs"]
    assert float(attrs["data-value"]) == pytest.approx(errors / invocations)
    assert f"{errors / invocations * 100:.2f}%" in rendered.page.text("exec-5xx")


def test_rows_outside_the_rolling_window_are_left_out(rendered: Rendered) -> None:
    assert "1,000,000,000" not in rendered.html and "1e+09" not in rendered.html
    trend = rendered.page.rows("exec-revenue-trend")
    days = {row[0] for row in trend}
    assert days == {d.isoformat() for d in IN_WINDOW}  # c0 = dt, one row per business unit and day
    assert len(trend) == len(IN_WINDOW) * len(BASE_REVENUE)
    payments = {row[0]: row[2] for row in trend if row[1] == "Payments"}
    assert payments[LAST.isoformat()] == f"${_revenue('Payments', LAST):,.0f}"
    controls = re.findall(r'data-filter-id="ml-lake-dates"[^>]*><b>Dates:</b>([^<]+)<', rendered.html)
    assert controls and set(controls) == {"2026-10-26 .. 2026-11-25"}
    assert "all business units" in rendered.html and "all endpoints" in rendered.html


def test_top_n_bars_keep_the_biggest_categories_in_order(rendered: Rendered) -> None:
    features = list(dict.fromkeys(row[0] for row in rendered.page.rows("drift-features")))
    assert features == sorted(FEATURES, key=lambda f: -FEATURES[f])[:15]  # feature_outside (100, before the window) is gone
    attributions = [row[0] for row in rendered.page.rows("attributions")]
    assert attributions == sorted(SHAP, key=lambda f: -SHAP[f])[:10]


def test_visual_scoped_fixed_filters(rendered: Rendered) -> None:
    incident_days = rendered.page.rows("impact-days")
    assert incident_days and {(r[0], r[1]) for r in incident_days} == {("2026-11-20", "Growth")}
    assert {r[3] for r in incident_days} == {"revenue", "orders", "conversion_rate"}
    # impact-revenue keeps kpi_name = revenue: on 11-20 Growth (5xx burst) and Payments (AUC below its threshold
    # since 11-16) breached, so the day's value is their revenue, without their orders and conversion rates
    revenue = {row[0]: row[1] for row in rendered.page.rows("impact-revenue")}
    burst = date(2026, 11, 20)
    assert revenue[burst.isoformat()] == f"{_revenue('Growth', burst) + _revenue('Payments', burst):,.0f}"
    assert "Filter: kpi_name = revenue" in rendered.page.text("impact-revenue")
    # impact-delta is not scoped by the incident filter: drift-only days of Payments (incident false) count there too
    assert {row[1] for row in rendered.page.rows("impact-delta")} == {"true", "false"}


def test_a_visual_without_rows_says_no_data(rendered: Rendered) -> None:
    assert rendered.page.visuals["bias-metrics"]["attrs"]["data-rows"] == "0"
    assert "No data" in rendered.page.text("bias-metrics")
    charts = [v for v, found in rendered.page.visuals.items() if found["charts"]]
    assert "bias-metrics" not in charts
    assert re.search(r'data-plots-expected="(\d+)"', rendered.html).group(1) == str(len(charts))  # type: ignore[union-attr]


def test_errors_name_the_field_the_visual_and_the_dataset(lake: Path, analysis: dict[str, Any], tmp_path: Path) -> None:
    engine = LakeFileEngine(lake)
    broken = copy.deepcopy(analysis)
    broken["Definition"]["CalculatedFields"][0]["Expression"] = "avg({invocation_5xx_rate})"
    with pytest.raises(CalculatedFieldError, match="fleet_5xx_rate"):
        render_preview(broken, QUICKSIGHT_DIR, engine, tmp_path, now=NOW)
    broken = copy.deepcopy(analysis)
    broken["Definition"]["Sheets"][1]["Visuals"][0] = {"PieChartVisual": {"VisualId": "a-pie", "ChartConfiguration": {}}}
    with pytest.raises(UnsupportedDefinitionError, match="a-pie.*PieChartVisual"):
        render_preview(broken, QUICKSIGHT_DIR, engine, tmp_path, now=NOW)
    assets = tmp_path / "quicksight"
    shutil.copytree(QUICKSIGHT_DIR, assets)
    dataset = assets / "datasets" / "drift_daily.json"
    dataset.write_text(
        dataset.read_text(encoding="utf-8").replace('"Name": "drift_daily"', '"Name": "drift_weekly"'), encoding="utf-8"
    )
    with pytest.raises(MissingViewError, match="drift_daily.*drift_weekly"):
        render_preview(analysis, assets, engine, tmp_path, now=NOW)
    assert not (tmp_path / "dashboard.html").exists()


# --- the page in a real browser -------------------------------------------------------------------------------

CHROMIUM_HINT = "Chromium is not installed: `sudo apt-get install -y chromium` (Debian/Ubuntu), or run .ci/run which installs it"


def _chromium() -> str:
    _wait_for_a_pending_install()
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if found is None:
        pytest.skip(CHROMIUM_HINT)
    return found


def _wait_for_a_pending_install(timeout: float = 600.0) -> None:
    """.ci/run installs Chromium while the suite starts: it names a file it writes when the install has ended."""
    pending = os.environ.get("MLMON_CHROMIUM_PENDING")
    deadline = time.monotonic() + timeout
    while pending and not Path(pending).exists() and time.monotonic() < deadline:
        time.sleep(0.5)


def _browse(chromium: str, profile: Path, *args: str, target: Path) -> subprocess.CompletedProcess[str]:
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=20000",
        *args,
        target.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


def _console_errors(stderr: str) -> list[str]:
    """Chromium's log of the page's console: uncaught errors and console.error lines."""
    return [line for line in stderr.splitlines() if "CONSOLE" in line and re.search(r"Uncaught|Error|error", line)]


@pytest.mark.e2e
def test_the_page_draws_every_chart_in_headless_chromium(rendered: Rendered, tmp_path: Path) -> None:
    chromium = _chromium()
    dumped = _browse(chromium, tmp_path / "profile-dom", "--dump-dom", target=rendered.path)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = dumped.stdout
    assert _console_errors(dumped.stderr) == []
    errors = re.search(r'<pre id="preview-errors"( hidden="")?>(.*?)</pre>', dom, re.S)
    assert errors is not None and errors.group(2).strip() == "", errors.group(2) if errors else dom[:500]
    expected = int(re.search(r'data-plots-expected="(\d+)"', dom).group(1))  # type: ignore[union-attr]
    assert expected >= 25
    assert re.search(r'data-plots-rendered="(\d+)"', dom).group(1) == str(expected)  # type: ignore[union-attr]
    for chart in re.findall(r'<div class="chart[^"]*" id="([^"]+)"', rendered.html):
        start = dom.index(f'id="{chart}"')
        assert "main-svg" in dom[start : start + 4000] and "plot-container" in dom[start : start + 4000], chart

    shot = tmp_path / "preview.png"
    taken = _browse(chromium, tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1600,2400", target=rendered.path)
    assert taken.returncode == 0 and shot.stat().st_size > 50_000, taken.stderr[-2000:]
    assert _console_errors(taken.stderr) == []
    REPO_OUT.mkdir(exist_ok=True)
    shutil.copyfile(shot, REPO_OUT / "preview-test.png")
    shutil.copyfile(rendered.path, REPO_OUT / "preview-test.html")
