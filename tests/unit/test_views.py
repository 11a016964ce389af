"""The views of sql/: valid Athena SQL, applied in dependency order, numbers reconciled with their inputs."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from pipelines.errors import FatalError
from pipelines.lake.schemas import TABLES
from pipelines.publish.views import SQL_DIR, ViewError, load_views
from pipelines.query.local import connect, register_views
from pipelines.query.view_sql import view_ddl

ACCOUNT, REGION = "111111111111", "us-east-1"
D1, D2 = "2024-05-01", "2024-05-02"
FRAUD, RECO, IDLE = "fraud-prod", "reco-prod", "idle-prod"
VARIANT = "AllTraffic"
UNITS = {FRAUD: "Payments", RECO: "Growth", IDLE: "Growth"}
NAMESPACE = {"CPUUtilization": "/aws/sagemaker/Endpoints", "MemoryUtilization": "/aws/sagemaker/Endpoints"}
MS = 1000.0  # microseconds per millisecond

# (endpoint, dt) -> metric -> stat -> value of each 5-minute period
SERIES: dict[tuple[str, str], dict[str, dict[str, list[float]]]] = {
    (FRAUD, D1): {
        "Invocations": {"Sum": [100, 200, 300]},
        "Invocation4XXErrors": {"Sum": [1, 0, 2]},
        "Invocation5XXErrors": {"Sum": [0, 5, 1]},
        "ModelLatency": {
            "p50": [10_000, 20_000, 15_000],
            "p90": [40_000, 90_000, 60_000],
            "p99": [120_000, 450_000, 90_000],
            "Sum": [2e6, 8e6, 6e6],
            "SampleCount": [100, 200, 300],
        },
        "OverheadLatency": {"p99": [1_000, 3_000, 2_000], "p50": [500, 700, 600]},
        "CPUUtilization": {"Average": [20, 40, 60], "Maximum": [50, 90, 70]},
        "MemoryUtilization": {"Average": [30, 30, 33], "Maximum": [31, 35, 40]},
    },
    (FRAUD, D2): {
        "Invocations": {"Sum": [10, 20, 30]},
        "Invocation4XXErrors": {"Sum": [0, 0, 0]},
        "Invocation5XXErrors": {"Sum": [0, 0, 3]},
        "ModelLatency": {"p50": [9_000, 8_000, 7_000], "p90": [20_000, 25_000, 22_000], "p99": [30_000, 31_000, 29_000]},
        "CPUUtilization": {"Average": [10, 10, 40], "Maximum": [12, 15, 80]},
    },
    (RECO, D1): {
        "Invocations": {"Sum": [50, 50, 50]},
        "Invocation5XXErrors": {"Sum": [1, 1, 1]},
        "ModelLatency": {"p99": [5_000, 6_000, 7_000]},
    },
    (RECO, D2): {  # deployed but idle: CloudWatch reports zero traffic
        "Invocations": {"Sum": [0, 0, 0]},
        "Invocation5XXErrors": {"Sum": [0, 0, 0]},
    },
}
# Which model served each variant that day (IDLE has no datapoints at all).
MODELS = {(FRAUD, D1): 3, (FRAUD, D2): 4, (RECO, D1): 7, (RECO, D2): 7, (IDLE, D1): 1}

# (endpoint, dt, hour, metric, value, threshold, operator) -> expected breached
QUALITY = [
    (FRAUD, D1, 1, "auc", 0.80, 0.85, "LessThanThreshold"),  # earlier run of the day: breached
    (FRAUD, D1, 5, "auc", 0.90, 0.85, "LessThanThreshold"),  # latest: fine
    (FRAUD, D1, 5, "f1", 0.70, 0.60, "LessThanThreshold"),
    (FRAUD, D2, 5, "false_positive_rate", 0.20, 0.10, "GreaterThanThreshold"),
    (FRAUD, D2, 5, "precision", 0.50, 0.50, "LessThanOrEqualToThreshold"),
    (FRAUD, D2, 5, "recall", 0.50, 0.50, "LessThanThreshold"),
    (FRAUD, D2, 5, "accuracy", 0.90, 0.90, "GreaterThanOrEqualToThreshold"),
    (FRAUD, D2, 5, "mae", 0.30, None, None),
]
EXPECTED_BREACHED = {  # (endpoint, dt, metric) -> (value, breached, executions, breached_executions)
    (FRAUD, D1, "auc"): (0.90, False, 2, 1),
    (FRAUD, D1, "f1"): (0.70, False, 1, 0),
    (FRAUD, D2, "false_positive_rate"): (0.20, True, 1, 1),
    (FRAUD, D2, "precision"): (0.50, True, 1, 1),
    (FRAUD, D2, "recall"): (0.50, False, 1, 0),
    (FRAUD, D2, "accuracy"): (0.90, True, 1, 1),
    (FRAUD, D2, "mae"): (0.30, None, 1, 0),
}

# Executions: (endpoint, dt, monitoring_type, violation_count); violations: (endpoint, dt, type, check, feature, metric, facet, facet_value)
EXECUTIONS = [
    (FRAUD, D1, "DataQuality", 3),
    (FRAUD, D1, "ModelQuality", 0),
    (FRAUD, D2, "DataQuality", 0),
    (FRAUD, D2, "ModelBias", 1),
    (FRAUD, D2, "ModelQuality", 1),
    (RECO, D1, "DataQuality", 2),
]
VIOLATIONS = [
    (FRAUD, D1, "DataQuality", "baseline_drift_check", "amount", None, None, None),
    (FRAUD, D1, "DataQuality", "baseline_drift_check", "country", None, None, None),
    (FRAUD, D1, "DataQuality", "data_type_check", "amount", None, None, None),
    (FRAUD, D2, "ModelBias", "bias_drift_check", None, "DPPL", "customer_age", "40"),
    (FRAUD, D2, "ModelQuality", "GreaterThanThreshold", None, "falsePositiveRate", None, None),
    (RECO, D1, "DataQuality", "baseline_drift_check", "age", None, None, None),
    (RECO, D1, "DataQuality", "completeness_check", "age", None, None, None),
]
BIAS = [  # (endpoint, dt, metric, value, error) -> breached only DPPL on D2 (the violation's day)
    (FRAUD, D1, "DPPL", 0.04, None),
    (FRAUD, D2, "DPPL", 0.10, None),
    (FRAUD, D2, "DI", 0.90, None),
    (FRAUD, D2, "TE", None, "Treatment Equality is undefined: FN count is 0 for the facet"),
]
KPIS = {
    ("Payments", D1): {"revenue": 1000.0, "conversion_rate": 0.05, "orders": 40.0, "fraud_losses": 12.5},
    ("Payments", D2): {"revenue": 1100.0, "conversion_rate": 0.06, "orders": 44.0, "fraud_losses": 30.0},
    ("Growth", D1): {"revenue": 500.0, "orders": 20.0, "nps": 42.0},  # no conversion or fraud figures
    ("Growth", D2): {"revenue": 450.0, "conversion_rate": 0.02, "orders": 18.0, "fraud_losses": 0.0},
}


def _day(dt: str, hour: int = 0, minutes: int = 0) -> datetime:
    return datetime.fromisoformat(dt) + timedelta(hours=hour, minutes=minutes)


def _metric_rows() -> list[dict[str, Any]]:
    rows = []
    for (endpoint, dt), metrics in SERIES.items():
        for metric, stats in metrics.items():
            for stat, values in stats.items():
                for i, value in enumerate(values):
                    rows.append(
                        {
                            "namespace": NAMESPACE.get(metric, "AWS/SageMaker"),
                            "metric_name": metric,
                            "dimensions": [("EndpointName", endpoint), ("VariantName", VARIANT)],
                            "endpoint_name": endpoint,
                            "variant_name": VARIANT,
                            "stat": stat,
                            "period_seconds": 300,
                            "ts": _day(dt, minutes=5 * i),
                            "value": float(value),
                            "dt": dt,
                        }
                    )
    noise = [  # must not count: another namespace, and an endpoint-level series without a variant
        {"namespace": "aws/sagemaker/Endpoints/data-metrics", "endpoint_name": FRAUD, "variant_name": VARIANT},
        {"namespace": "AWS/SageMaker", "endpoint_name": FRAUD, "variant_name": None},
    ]
    for extra in noise:
        rows.append(
            {
                **extra,
                "metric_name": "Invocations",
                "dimensions": [("EndpointName", FRAUD)],
                "stat": "Sum",
                "period_seconds": 300,
                "ts": _day(D1),
                "value": 9999.0,
                "dt": D1,
            }
        )
    return rows


def _execution(endpoint: str, dt: str, monitoring_type: str, hour: int = 5) -> dict[str, Any]:
    return {
        "endpoint_name": endpoint,
        "schedule_name": f"{endpoint}-{monitoring_type.lower()}",
        "monitoring_type": monitoring_type,
        "scheduled_hour": _day(dt, hour),
        "dt": dt,
        "source_uri": f"s3://reports/{endpoint}/{monitoring_type}/{dt}/{hour:02d}/",
    }


def _inputs() -> dict[str, list[dict[str, Any]]]:
    return {
        "cloudwatch_metrics": _metric_rows(),
        "endpoints": [{"endpoint_name": e, "business_unit": u} for e, u in UNITS.items()],
        "endpoint_models": [
            {
                "endpoint_name": e,
                "variant_name": VARIANT,
                "model_name": f"{e}-v{v}",
                "model_version": v,
                "observed_at": _day(dt, 1),
                "dt": dt,
            }
            for (e, dt), v in MODELS.items()
        ],
        "model_quality_metrics": [
            {
                **_execution(e, dt, "ModelQuality", hour),
                "problem_type": "BinaryClassification",
                "metric_name": m,
                "value": value,
                "threshold": threshold,
                "comparison_operator": op,
            }
            for e, dt, hour, m, value, threshold, op in QUALITY
        ],
        "monitor_executions": [
            {**_execution(e, dt, kind), "violation_count": n, "report_files": []} for e, dt, kind, n in EXECUTIONS
        ],
        "monitor_violations": [
            {
                **_execution(e, dt, kind),
                "constraint_check_type": check,
                "feature_name": feature,
                "metric_name": metric,
                "facet": facet,
                "facet_value": facet_value,
            }
            for e, dt, kind, check, feature, metric, facet, facet_value in VIOLATIONS
        ],
        "bias_metrics": [
            {
                **_execution(e, dt, "ModelBias"),
                "stage": "post_training",
                "label": "is_fraud",
                "facet": "customer_age",
                "facet_value": "40",
                "metric_name": m,
                "value": value,
                "error": error,
            }
            for e, dt, m, value, error in BIAS
        ],
        "business_kpis": [
            {
                "business_unit": u,
                "kpi_name": k,
                "value": v,
                "source_uri": f"s3://kpis/{dt}.csv",
                "loaded_at": _day(dt, 6),
                "dt": dt,
            }
            for (u, dt), values in KPIS.items()
            for k, v in values.items()
        ],
    }


def _table(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    """Rows on the contract schema (+ dt), with the keys every row repeats filled in."""
    spec = TABLES[name]
    schema = spec.schema.append(pa.field("dt", pa.string(), nullable=False)) if spec.partitioned else spec.schema
    defaults = {"account_id": ACCOUNT, "region": REGION}
    return pa.Table.from_pylist([{f.name: row.get(f.name, defaults.get(f.name)) for f in schema} for row in rows], schema)


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = connect()
    inputs = _inputs()
    for name, _spec in TABLES.items():
        c.register(name, _table(name, inputs.get(name, [])))
    register_views(c, load_views())
    yield c
    c.close()


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    return con.sql(sql).to_arrow_table().to_pylist()


# ---- files, parsing, order -------------------------------------------------------------------------------


def test_every_view_file_is_one_athena_select() -> None:
    files = sorted(SQL_DIR.glob("*.sql"))
    assert {p.stem for p in files} >= {"endpoint_daily", "model_quality_daily", "drift_daily", "bias_daily", "ml_business_daily"}
    for path in files:
        tree = sqlglot.parse_one(path.read_text(), read="athena")
        assert isinstance(tree, exp.Query), path.name


def test_views_come_after_the_views_they_use() -> None:
    order = list(load_views())
    assert order.index("endpoint_daily") < order.index("ml_business_daily")
    for used in ("drift_daily", "model_quality_daily"):
        assert order.index(used) < order.index("ml_business_daily")


def test_view_ddl_is_athena_create_view() -> None:
    for name, sql in load_views().items():
        ddl = view_ddl(name, sql, "ml_lake")
        assert ddl.startswith(f'CREATE OR REPLACE VIEW "ml_lake"."{name}" AS')
        tree = sqlglot.parse_one(ddl, read="athena")
        assert isinstance(tree, exp.Create) and tree.kind == "VIEW"
        assert tree.this.name == name and tree.args.get("replace")
    with pytest.raises(ViewError):
        view_ddl("x; DROP TABLE y", "SELECT 1", "ml_lake")


def test_unknown_reference_is_an_error_naming_the_view(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text("SELECT * FROM cloudwatch_metrics")
    (tmp_path / "b.sql").write_text("WITH x AS (SELECT * FROM a) SELECT * FROM x JOIN not_a_view USING (dt)")
    with pytest.raises(ViewError, match=r"view b: .*not_a_view") as error:
        load_views(tmp_path)
    assert isinstance(error.value, FatalError)


def test_cycle_is_an_error_naming_the_view(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text("SELECT * FROM b")
    (tmp_path / "b.sql").write_text("SELECT * FROM a")
    with pytest.raises(ViewError, match=r"view a: dependency cycle a -> b -> a"):
        load_views(tmp_path)


def test_order_follows_dependencies_not_names(tmp_path: Path) -> None:
    (tmp_path / "a_top.sql").write_text("SELECT * FROM z_base;\n")
    (tmp_path / "z_base.sql").write_text("-- base\nSELECT dt FROM business_kpis")
    views = load_views(tmp_path)
    assert list(views) == ["z_base", "a_top"]
    assert not views["a_top"].endswith(";")


def test_bad_sql_is_an_error_naming_the_view(tmp_path: Path) -> None:
    (tmp_path / "broken.sql").write_text("SELECT FROM WHERE (")
    with pytest.raises(ViewError, match="view broken"):
        load_views(tmp_path)


# ---- endpoint_daily ------------------------------------------------------------------------------------------


def _expected_endpoint_daily() -> dict[tuple[str, str], dict[str, Any]]:
    """From the inputs, in Python: sums of period Sums, max/median of period percentiles, etc."""
    per: dict[tuple[str, str], dict[tuple[str, str], list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in _metric_rows():
        if row["namespace"] in ("AWS/SageMaker", "/aws/sagemaker/Endpoints") and row["variant_name"]:
            per[(row["endpoint_name"], row["dt"])][(row["metric_name"], row["stat"])].append(row["value"])
    expected = {}
    for key in set(per) | set(MODELS):
        s = per.get(key, {})
        invocations = sum(s.get(("Invocations", "Sum"), []))
        e4, e5 = sum(s.get(("Invocation4XXErrors", "Sum"), [])), sum(s.get(("Invocation5XXErrors", "Sum"), []))
        p99 = s.get(("ModelLatency", "p99"))
        latency_sum, latency_n = s.get(("ModelLatency", "Sum")), s.get(("ModelLatency", "SampleCount"))
        expected[key] = {
            "invocations": invocations,
            "invocation_4xx_errors": e4,
            "invocation_5xx_errors": e5,
            "invocation_4xx_rate": e4 / invocations if invocations else None,
            "invocation_5xx_rate": e5 / invocations if invocations else None,
            "model_latency_p99_ms_worst_period": max(p99) / MS if p99 else None,
            "model_latency_p99_ms_median_period": statistics.median(p99) / MS if p99 else None,
            "model_latency_avg_ms": sum(latency_sum) / sum(latency_n) / MS if latency_sum else None,
            "cpu_utilization_avg": statistics.mean(s[("CPUUtilization", "Average")])
            if ("CPUUtilization", "Average") in s
            else None,
            "cpu_utilization_max": max(s[("CPUUtilization", "Maximum")]) if ("CPUUtilization", "Maximum") in s else None,
            "model_version": MODELS.get(key),
        }
    return expected


def test_endpoint_daily_reconciles_with_the_periods(con: duckdb.DuckDBPyConnection) -> None:
    rows = _rows(con, "SELECT * FROM endpoint_daily")
    got = {(r["endpoint_name"], r["dt"]): r for r in rows}
    expected = _expected_endpoint_daily()
    assert set(got) == set(expected)
    assert len(rows) == len(got)  # one row per endpoint variant and day
    for key, want in expected.items():
        for column, value in want.items():
            assert got[key][column] == pytest.approx(value), (key, column)


def test_endpoint_daily_known_numbers(con: duckdb.DuckDBPyConnection) -> None:
    [fraud] = _rows(con, f"SELECT * FROM endpoint_daily WHERE endpoint_name = '{FRAUD}' AND dt = '{D1}'")
    assert fraud["invocations"] == 600  # the noise rows (9999) are not counted
    assert fraud["invocation_5xx_rate"] == pytest.approx(6 / 600)
    assert fraud["model_latency_p99_ms_worst_period"] == pytest.approx(450.0)  # the worst period, not an average
    assert fraud["model_latency_p50_ms_median_period"] == pytest.approx(15.0)
    assert fraud["model_latency_p90_ms_worst_period"] == pytest.approx(90.0)
    assert fraud["overhead_latency_p99_ms_worst_period"] == pytest.approx(3.0)
    assert fraud["model_latency_avg_ms"] == pytest.approx(16e6 / 600 / 1000)
    assert (fraud["memory_utilization_avg"], fraud["memory_utilization_max"]) == (pytest.approx(31.0), 40.0)
    assert fraud["gpu_utilization_avg"] is None
    assert (fraud["model_version"], fraud["model_name"]) == (3, f"{FRAUD}-v3")


def test_endpoint_daily_rates_are_null_without_traffic(con: duckdb.DuckDBPyConnection) -> None:
    rows = _rows(con, "SELECT * FROM endpoint_daily WHERE invocations = 0 ORDER BY endpoint_name")
    assert [(r["endpoint_name"], r["dt"]) for r in rows] == [(IDLE, D1), (RECO, D2)]
    for row in rows:
        assert row["invocation_4xx_rate"] is None and row["invocation_5xx_rate"] is None
    assert rows[0]["model_version"] == 1 and rows[0]["model_latency_p99_ms_worst_period"] is None


def test_endpoint_daily_follows_a_model_version_change(con: duckdb.DuckDBPyConnection) -> None:
    rows = _rows(con, f"SELECT dt, model_version FROM endpoint_daily WHERE endpoint_name = '{FRAUD}' ORDER BY dt")
    assert [(r["dt"], r["model_version"]) for r in rows] == [(D1, 3), (D2, 4)]


# ---- model_quality_daily, drift_daily, bias_daily ------------------------------------------------------------


def test_model_quality_daily_breaches(con: duckdb.DuckDBPyConnection) -> None:
    rows = _rows(con, "SELECT * FROM model_quality_daily")
    got = {(r["endpoint_name"], r["dt"], r["metric_name"]): r for r in rows}
    assert len(rows) == len(got) == len(EXPECTED_BREACHED)
    for key, (value, breached, executions, breached_executions) in EXPECTED_BREACHED.items():
        row = got[key]
        assert (row["value"], row["breached"], row["executions"], row["breached_executions"]) == (
            pytest.approx(value),
            breached,
            executions,
            breached_executions,
        ), key
    assert got[(FRAUD, D1, "auc")]["threshold"] == pytest.approx(0.85)


def test_drift_daily_counts(con: duckdb.DuckDBPyConnection) -> None:
    rows = _rows(con, "SELECT * FROM drift_daily")
    want: dict[tuple, int] = defaultdict(int)
    for e, dt, kind, check, feature, metric, facet, _ in VIOLATIONS:
        want[(e, dt, kind, check, feature, metric, facet)] += 1
    got = {
        (
            r["endpoint_name"],
            r["dt"],
            r["monitoring_type"],
            r["constraint_check_type"],
            r["feature_name"],
            r["metric_name"],
            r["facet"],
        ): r["violations"]
        for r in rows
        if r["violations"]
    }
    assert got == dict(want)
    # executions without violations still show, with violations 0
    quiet = [r for r in rows if r["violations"] == 0]
    assert {(r["endpoint_name"], r["dt"], r["monitoring_type"]) for r in quiet} == {
        (FRAUD, D1, "ModelQuality"),
        (FRAUD, D2, "DataQuality"),
    }
    # per-group totals agree with the executions table (taken once per group)
    groups = {(r["endpoint_name"], r["dt"], r["monitoring_type"]): r for r in rows}
    for e, dt, kind, n in EXECUTIONS:
        assert groups[(e, dt, kind)]["executions"] == 1
        assert groups[(e, dt, kind)]["reported_violations"] == n
        assert sum(r["violations"] for r in rows if (r["endpoint_name"], r["dt"], r["monitoring_type"]) == (e, dt, kind)) == n


def test_bias_daily_breach_from_bias_drift_violation(con: duckdb.DuckDBPyConnection) -> None:
    rows = _rows(con, "SELECT * FROM bias_daily")
    got = {(r["dt"], r["metric_name"]): r for r in rows}
    assert len(rows) == len(BIAS)
    assert {k: r["breached"] for k, r in got.items()} == {
        (D1, "DPPL"): False,
        (D2, "DPPL"): True,
        (D2, "DI"): False,
        (D2, "TE"): False,
    }
    assert got[(D2, "DPPL")]["value"] == pytest.approx(0.10)
    assert got[(D2, "TE")]["value"] is None and "undefined" in got[(D2, "TE")]["error"]


# ---- ml_business_daily ---------------------------------------------------------------------------------------


def test_ml_business_daily_joins_health_and_kpis(con: duckdb.DuckDBPyConnection) -> None:
    rows = _rows(con, "SELECT * FROM ml_business_daily")
    got = {(r["business_unit"], r["dt"]): r for r in rows}
    assert set(got) == set(KPIS) and len(rows) == len(got)
    daily = _expected_endpoint_daily()
    for (unit, dt), row in got.items():
        mine = [v for (e, d), v in daily.items() if d == dt and UNITS[e] == unit]
        invocations = sum(v["invocations"] for v in mine)
        errors = sum(v["invocation_5xx_errors"] for v in mine)
        p99s = [v["model_latency_p99_ms_worst_period"] for v in mine if v["model_latency_p99_ms_worst_period"] is not None]
        assert row["endpoints"] == len(mine)
        assert row["invocations"] == invocations
        assert row["invocation_5xx_rate"] == (pytest.approx(errors / invocations) if invocations else None)
        assert row["model_latency_p99_ms_worst_period"] == (pytest.approx(max(p99s)) if p99s else None)
        drift = sum(1 for e, d, kind, *_ in VIOLATIONS if d == dt and UNITS[e] == unit and kind != "ModelQuality")
        assert row["drift_violations"] == drift
        breaches = sum(1 for (e, d, _), (_, b, _, _) in EXPECTED_BREACHED.items() if d == dt and UNITS[e] == unit and b)
        assert row["quality_breaches"] == breaches
        for kpi in ("revenue", "conversion_rate", "orders", "fraud_losses"):
            assert row[kpi] == KPIS[(unit, dt)].get(kpi), (unit, dt, kpi)


def test_ml_business_daily_known_numbers(con: duckdb.DuckDBPyConnection) -> None:
    [payments] = _rows(con, f"SELECT * FROM ml_business_daily WHERE business_unit = 'Payments' AND dt = '{D2}'")
    assert (payments["invocations"], payments["invocation_5xx_rate"]) == (60, pytest.approx(0.05))
    assert payments["model_latency_p99_ms_worst_period"] == pytest.approx(31.0)
    assert (payments["drift_violations"], payments["quality_breaches"]) == (1, 3)  # bias drift; fpr, precision, accuracy
    assert (payments["revenue"], payments["fraud_losses"]) == (1100.0, 30.0)
    [growth] = _rows(con, f"SELECT * FROM ml_business_daily WHERE business_unit = 'Growth' AND dt = '{D2}'")
    assert growth["invocations"] == 0 and growth["invocation_5xx_rate"] is None  # reco idle that day


def test_counts_are_bigint_as_on_athena(con: duckdb.DuckDBPyConnection) -> None:
    """DuckDB sums BIGINTs into HUGEINT (decimal in Arrow); Athena gives BIGINT: the views cast."""
    for name in load_views():
        schema = con.sql(f"SELECT * FROM {name}").to_arrow_table().schema
        assert not [f.name for f in schema if pa.types.is_decimal(f.type)], name


def test_a_missing_sql_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ViewError, match="no view files"):
        load_views(tmp_path / "nowhere")


def test_the_package_ships_the_sql_it_applies() -> None:
    import pipelines

    shipped = Path(pipelines.__file__).resolve().parent / "sql"
    assert sorted(p.name for p in shipped.glob("*.sql")) == sorted(
        p.name for p in (Path(__file__).resolve().parents[2] / "sql").glob("*.sql")
    )
    assert list(load_views()) and SQL_DIR == shipped
