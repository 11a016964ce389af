"""The endpoint_rightsizing view on DuckDB: utilisation per core and GPU from the instance type, and who to shrink or grow."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from pipelines.query.local import run_query
from tests.viewhelpers import lake_with_views

DT = "2026-11-03"
START = datetime(2026, 11, 3)
# endpoint -> (instance type, CPUUtilization Averages (summed over vCPUs), MemoryUtilization, GPUUtilization)
FLEET: dict[str, tuple[str | None, list[float], list[float], list[float]]] = {
    "idle-c5": ("ml.c5.2xlarge", [80.0] * 10, [15.0] * 10, []),  # 8 vCPUs at 10 %, memory 15 %: shrink
    "busy-gpu": ("ml.g4dn.xlarge", [120.0] * 10, [40.0] * 10, [float(10 * i) for i in range(1, 11)]),  # GPU p90 90 %: grow
    "steady-m5": ("ml.m5.large", [100.0] * 10, [50.0] * 10, []),  # 2 vCPUs at 50 %: fine
    "unknown": (None, [300.0] * 10, [10.0] * 10, []),  # never observed in lineage: no capacity, no verdict
    "big-m5": ("ml.m5.4xlarge", [160.0] * 10, [30.0] * 10, []),  # 16 vCPUs at 10 %, memory 30 %: fine
    "multi-gpu": ("ml.g5.12xlarge", [480.0] * 10, [25.0] * 10, [200.0] * 10),  # 48 vCPUs, 4 GPUs at 50 %
    "p3": ("ml.p3.2xlarge", [80.0] * 10, [10.0] * 10, [50.0] * 10),  # 8 vCPUs, 1 GPU
}


def _metric_rows() -> list[dict[str, Any]]:
    rows = []
    for endpoint, (_, cpu, memory, gpu) in FLEET.items():
        for metric, values in (("CPUUtilization", cpu), ("MemoryUtilization", memory), ("GPUUtilization", gpu)):
            for i, value in enumerate(values):
                rows.append(
                    {
                        "namespace": "/aws/sagemaker/Endpoints",
                        "metric_name": metric,
                        "endpoint_name": endpoint,
                        "variant_name": "AllTraffic",
                        "stat": "Average",
                        "period_seconds": 300,
                        "ts": START.replace(minute=5 * i),
                        "value": value,
                        "unit": "Percent",
                    }
                )
                # a Maximum of the same period must not count
                rows.append({**rows[-1], "stat": "Maximum", "value": 100.0 * 96})
    return rows


def _model_rows() -> list[dict[str, Any]]:
    rows = []
    for endpoint, (instance_type, *_) in FLEET.items():
        if instance_type is None:
            continue
        old = {
            "endpoint_name": endpoint,
            "variant_name": "AllTraffic",
            "instance_type": "ml.t2.medium",
            "instance_count": 1,
            "observed_at": datetime(2026, 11, 4, 1),
            "dt": DT,
        }
        rows += [old, {**old, "instance_type": instance_type, "instance_count": 2, "observed_at": datetime(2026, 11, 4, 2)}]
    return rows


@pytest.fixture(scope="module")
def rows() -> Iterator[dict[str, dict[str, Any]]]:
    inputs = {"cloudwatch_metrics": _metric_rows(), "endpoint_models": _model_rows()}
    con = lake_with_views(inputs, {"account_id": "111111111111", "region": "us-east-1", "dt": DT})
    yield {r["endpoint_name"]: r for r in run_query(con, "SELECT * FROM endpoint_rightsizing").to_pylist()}
    con.close()


def test_one_row_per_endpoint_variant_and_day(rows: dict[str, dict[str, Any]]) -> None:
    assert set(rows) == set(FLEET)
    assert all(r["dt"] == DT and r["variant_name"] == "AllTraffic" for r in rows.values())


def test_capacity_comes_from_the_newest_observed_instance_type(rows: dict[str, dict[str, Any]]) -> None:
    got = {e: (r["instance_type"], r["instance_count"], r["vcpus"], r["gpus"]) for e, r in rows.items()}
    assert got == {
        "idle-c5": ("ml.c5.2xlarge", 2, 8, 0),
        "busy-gpu": ("ml.g4dn.xlarge", 2, 4, 1),
        "steady-m5": ("ml.m5.large", 2, 2, 0),
        "unknown": (None, None, None, None),
        "big-m5": ("ml.m5.4xlarge", 2, 16, 0),
        "multi-gpu": ("ml.g5.12xlarge", 2, 48, 4),
        "p3": ("ml.p3.2xlarge", 2, 8, 1),
    }


def test_utilisation_is_per_core_and_per_gpu_from_the_averages(rows: dict[str, dict[str, Any]]) -> None:
    assert rows["idle-c5"]["cpu_utilization_avg"] == pytest.approx(10.0)
    assert rows["multi-gpu"]["cpu_utilization_p90"] == pytest.approx(10.0)
    assert rows["multi-gpu"]["gpu_utilization_avg"] == pytest.approx(50.0)
    assert rows["busy-gpu"]["cpu_utilization_avg"] == pytest.approx(30.0)
    assert rows["busy-gpu"]["gpu_utilization_avg"] == pytest.approx(55.0)
    assert rows["busy-gpu"]["gpu_utilization_p90"] == pytest.approx(90.0)  # nearest rank of 10..100
    assert rows["steady-m5"]["memory_utilization_p90"] == pytest.approx(50.0)
    assert rows["idle-c5"]["gpu_utilization_avg"] is None  # no GPU: no GPU utilisation, not 0
    assert rows["unknown"]["cpu_utilization_avg"] is None and rows["unknown"]["memory_utilization_avg"] == pytest.approx(10.0)


def test_the_recommendation_follows_the_busiest_resource(rows: dict[str, dict[str, Any]]) -> None:
    got = {e: (r["recommendation"], r["peak_utilization_p90"]) for e, r in rows.items()}
    assert got == {
        "idle-c5": ("downsize", pytest.approx(15.0)),  # memory is its busiest resource, still under 20 %
        "busy-gpu": ("upsize", pytest.approx(90.0)),
        "steady-m5": ("ok", pytest.approx(50.0)),
        "unknown": (None, None),
        "big-m5": ("ok", pytest.approx(30.0)),
        "multi-gpu": ("ok", pytest.approx(50.0)),
        "p3": ("ok", pytest.approx(50.0)),
    }
