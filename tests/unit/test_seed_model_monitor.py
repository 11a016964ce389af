"""The demo's Model Monitor reports: deterministic, in the real formats, with the stories the dashboards show."""

from __future__ import annotations

import json
from datetime import date

import pytest

from pipelines.demo.fleet import build_fleet
from pipelines.demo.seed_model_monitor import AUC_THRESHOLD, monitor_objects, monitored_endpoints
from pipelines.sources.model_monitor.documents import UnreadableReport, read_report
from pipelines.sources.model_monitor.reports import report_kind

FLEET = build_fleet(start=date(2025, 6, 2), days=6)
BUCKET = "sagemaker-us-east-1-111111111111"


@pytest.fixture(scope="module")
def objects() -> dict[str, bytes]:
    return monitor_objects(FLEET, monitored_endpoints(FLEET, BUCKET))


def test_same_bytes_every_time(objects: dict[str, bytes]) -> None:
    assert monitor_objects(FLEET, monitored_endpoints(FLEET, BUCKET)) == objects


def test_default_bucket_holds_its_account_and_regions_endpoints_only() -> None:
    assert [e.name for e in monitored_endpoints(FLEET, BUCKET)] == ["fraud-detector-prod", "search-ranker-prod"]
    assert len(monitored_endpoints(FLEET, "any-other-bucket")) == len(FLEET.endpoints)
    with pytest.raises(ValueError, match="no endpoint"):
        monitored_endpoints(FLEET, "sagemaker-ap-south-1-999999999999")


def test_every_report_parses_but_the_one_broken_on_purpose(objects: dict[str, bytes]) -> None:
    broken = []
    for key, body in objects.items():
        kind = report_kind(key)
        if kind is None or "/baselines/" in f"/{key}" or key.endswith("analysis_config.json"):
            continue
        try:
            read_report(kind, body)
        except UnreadableReport:
            broken.append(key)
    middle = FLEET.dates[len(FLEET.dates) // 2]
    assert broken == [f"monitoring/search-ranker-prod/data-quality-hourly/{middle:%Y/%m/%d}/12/statistics.json"]


def test_drift_episode_on_the_incident_endpoint_during_the_incident(objects: dict[str, bytes]) -> None:
    [incident] = [s for s in FLEET.stories if s.kind == "latency_incident"]
    drifting = {
        key for key, body in objects.items() if key.endswith("constraint_violations.json") and b"baseline_drift_check" in body
    }
    day = f"{incident.start:%Y/%m/%d}"
    hours = range(incident.start.hour, incident.end.hour + 4)
    assert drifting == {
        f"monitoring/{incident.endpoint_name}/data-quality-hourly/{day}/{h:02d}/constraint_violations.json" for h in hours
    }
    first = json.loads(objects[min(drifting)])["violations"][0]
    assert first["description"].startswith("Baseline drift distance: ") and "exceeds threshold: 0.1" in first["description"]


def test_model_quality_decays_below_its_threshold(objects: dict[str, bytes]) -> None:
    daily = sorted(k for k in objects if "/model-quality-daily/" in k and k.endswith("statistics.json"))  # by date
    assert len(daily) == FLEET.days
    values = [json.loads(objects[k])["binary_classification_metrics"]["auc"]["value"] for k in daily]
    assert values[0] > AUC_THRESHOLD > values[-1] and values == sorted(values, reverse=True)
    late = [k for k in objects if "/model-quality-daily/" in k and k.endswith("constraint_violations.json")]
    assert late and all(b"LessThanThreshold" in objects[k] for k in late)


def test_baselines_and_decoys_are_where_the_config_points(objects: dict[str, bytes]) -> None:
    assert json.loads(objects["baselines/fraud-detector-prod/model-quality/constraints.json"])[
        "binary_classification_constraints"
    ]["auc"] == {"threshold": AUC_THRESHOLD, "comparison_operator": "LessThanThreshold"}
    assert any(k.startswith("monitoring/merge/") for k in objects)
    assert sum(k.endswith("analysis_config.json") for k in objects) == 2


def test_days_outside_the_fleet_are_refused() -> None:
    with pytest.raises(ValueError, match="inside the fleet's period"):
        monitor_objects(FLEET, monitored_endpoints(FLEET, BUCKET), [date(2020, 1, 1)])
