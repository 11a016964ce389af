"""incident_impact: breach days per business unit and their KPI change against a same-weekday (or trailing) baseline."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from pipelines.lake.schemas import TABLES
from pipelines.publish.views import SQL_DIR, load_views
from pipelines.query.local import connect, register_views

ACCOUNT, REGION, VARIANT = "111111111111", "us-east-1", "AllTraffic"
FRAUD, ROUTER, SEARCH = "fraud-prod", "router-prod", "search-prod"
UNITS = {FRAUD: "Payments", ROUTER: "Payments", SEARCH: "Marketplace"}
FIRST = date(2024, 5, 1)  # a Wednesday
DAYS = [FIRST + timedelta(days=i) for i in range(29)]  # 2024-05-01 .. 2024-05-29 (a Wednesday)

LATENCY_DAYS = {date(2024, 5, 3), date(2024, 5, 29)}  # fraud p99 500 ms against a usual 120 ms
BURST_DAY = date(2024, 5, 15)  # router: 5xx rate 3.4% (a Wednesday: excluded from 05-29's baseline)
DRIFT_DAY = date(2024, 5, 22)  # fraud: a data-quality violation only (stays in 05-29's baseline)
MISSING_ORDERS = date(2024, 5, 29)  # Payments did not deliver `orders` that day


def _revenue(day: date) -> float:
    return 1000.0 + 10.0 * (day - FIRST).days + (300.0 if day.weekday() == 2 else 0.0)  # Wednesdays are busy


def _dt(day: date) -> str:
    return day.isoformat()


def _metric_rows() -> list[dict[str, Any]]:
    rows = []
    for day in DAYS:
        for endpoint in UNITS:
            p99 = [100_000, 110_000, 120_000]
            errors = [1, 1, 1]
            if endpoint == FRAUD and day in LATENCY_DAYS:
                p99 = [100_000, 500_000, 120_000]
            if endpoint == ROUTER and day == BURST_DAY:
                errors = [1, 100, 1]
            series = {("Invocations", "Sum"): [1000] * 3, ("Invocation5XXErrors", "Sum"): errors, ("ModelLatency", "p99"): p99}
            for (metric, stat), values in series.items():
                for i, value in enumerate(values):
                    rows.append(
                        {
                            "namespace": "AWS/SageMaker",
                            "metric_name": metric,
                            "dimensions": [("EndpointName", endpoint)],
                            "endpoint_name": endpoint,
                            "variant_name": VARIANT,
                            "stat": stat,
                            "period_seconds": 300,
                            "ts": datetime.combine(day, datetime.min.time()) + timedelta(minutes=5 * i),
                            "value": float(value),
                            "dt": _dt(day),
                        }
                    )
    return rows


def _kpi_rows() -> list[dict[str, Any]]:
    rows = []
    for day in DAYS:
        kpis = {("Payments", "revenue"): _revenue(day), ("Marketplace", "revenue"): 2 * _revenue(day)}
        if day != MISSING_ORDERS:
            kpis[("Payments", "orders")] = 40.0
        for (unit, kpi), value in kpis.items():
            rows.append(
                {
                    "business_unit": unit,
                    "kpi_name": kpi,
                    "value": value,
                    "source_uri": f"s3://kpis/{day}.csv",
                    "loaded_at": datetime.combine(day, datetime.min.time()),
                    "dt": _dt(day),
                }
            )
    return rows


def _monitor_rows() -> dict[str, list[dict[str, Any]]]:
    execution = {
        "endpoint_name": FRAUD,
        "schedule_name": "fraud-dq",
        "monitoring_type": "DataQuality",
        "scheduled_hour": datetime.combine(DRIFT_DAY, datetime.min.time()),
        "dt": _dt(DRIFT_DAY),
        "source_uri": "s3://reports/fraud/dq/",
    }
    return {
        "monitor_executions": [{**execution, "violation_count": 1, "report_files": []}],
        "monitor_violations": [{**execution, "constraint_check_type": "baseline_drift_check", "feature_name": "amount"}],
    }


def _table(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    spec = TABLES[name]
    schema = spec.schema.append(pa.field("dt", pa.string(), nullable=False)) if spec.partitioned else spec.schema
    defaults = {"account_id": ACCOUNT, "region": REGION}
    return pa.Table.from_pylist([{f.name: row.get(f.name, defaults.get(f.name)) for f in schema} for row in rows], schema)


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = connect()
    inputs = {
        "cloudwatch_metrics": _metric_rows(),
        "business_kpis": _kpi_rows(),
        "endpoints": [{"endpoint_name": e, "business_unit": u} for e, u in UNITS.items()],
        **_monitor_rows(),
    }
    for name in TABLES:
        c.register(name, _table(name, inputs.get(name, [])))
    register_views(c, load_views())
    yield c
    c.close()


def _impact(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str, str], dict[str, Any]]:
    rows = con.sql("SELECT * FROM incident_impact").to_arrow_table().to_pylist()
    keyed = {(r["business_unit"], r["dt"], r["kpi_name"]): r for r in rows}
    assert len(keyed) == len(rows)  # one row per unit, day and KPI
    return keyed


def test_file_is_one_athena_select_after_the_views_it_uses() -> None:
    tree = sqlglot.parse_one((SQL_DIR / "incident_impact.sql").read_text(), read="athena")
    assert isinstance(tree, exp.Query)
    order = list(load_views())
    for used in ("endpoint_daily", "drift_daily", "model_quality_daily"):
        assert order.index(used) < order.index("incident_impact")


def test_breach_days_are_the_incidents_and_the_drift_day(con: duckdb.DuckDBPyConnection) -> None:
    impact = _impact(con)
    days = {(unit, dt) for unit, dt, _ in impact}
    # 05-01 cannot breach on latency (no previous days); Marketplace never breached.
    assert days == {("Payments", _dt(d)) for d in (*LATENCY_DAYS, BURST_DAY, DRIFT_DAY)}
    breach = impact[("Payments", "2024-05-29", "revenue")]
    assert (breach["latency_breaches"], breach["error_breaches"], breach["drift_breaches"]) == (1, 0, 0)
    assert breach["incident"] is True and breach["breached_endpoints"] == FRAUD and breach["weekday"] == 3
    burst = impact[("Payments", _dt(BURST_DAY), "revenue")]
    assert (burst["latency_breaches"], burst["error_breaches"], burst["breached_endpoints"]) == (0, 1, ROUTER)
    drift = impact[("Payments", _dt(DRIFT_DAY), "revenue")]
    assert (drift["drift_breaches"], drift["incident"], drift["breached_endpoints"]) == (1, False, FRAUD)


def test_kpi_delta_against_the_same_weekday_baseline(con: duckdb.DuckDBPyConnection) -> None:
    row = _impact(con)[("Payments", "2024-05-29", "revenue")]
    # Same weekday 1-4 weeks before: 05-22 (drift only: kept), 05-15 (5xx burst: excluded), 05-08, 05-01.
    baseline_days = [date(2024, 5, 22), date(2024, 5, 8), date(2024, 5, 1)]
    baseline = sum(_revenue(d) for d in baseline_days) / 3  # (1510 + 1370 + 1300) / 3
    assert baseline == pytest.approx(4180 / 3)
    assert row["baseline"] == "same_weekday" and row["baseline_days"] == 3
    assert row["value"] == pytest.approx(1580.0)
    assert row["baseline_value"] == pytest.approx(baseline)
    assert row["delta"] == pytest.approx(1580.0 - baseline)
    assert row["delta_pct"] == pytest.approx((1580.0 - baseline) / baseline)
    burst = _impact(con)[("Payments", _dt(BURST_DAY), "revenue")]  # 05-08 and 05-01
    assert burst["baseline_days"] == 2 and burst["baseline_value"] == pytest.approx((1370.0 + 1300.0) / 2)


def test_trailing_mean_when_no_same_weekday_exists(con: duckdb.DuckDBPyConnection) -> None:
    row = _impact(con)[("Payments", "2024-05-03", "revenue")]
    assert row["baseline"] == "trailing_7d" and row["baseline_days"] == 2  # 05-01 and 05-02 only
    assert row["baseline_value"] == pytest.approx((1300.0 + 1010.0) / 2)
    assert row["delta"] == pytest.approx(_revenue(date(2024, 5, 3)) - 1155.0)


def test_kpi_not_delivered_on_the_breach_day_has_no_delta(con: duckdb.DuckDBPyConnection) -> None:
    row = _impact(con)[("Payments", _dt(MISSING_ORDERS), "orders")]
    assert row["value"] is None and row["delta"] is None
    assert row["baseline"] == "same_weekday" and row["baseline_value"] == pytest.approx(40.0)
