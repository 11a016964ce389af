"""Configuration of CloudWatch cross-account observability: which sources read via the monitoring account, and errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipelines.config import load_config, parse_config
from pipelines.errors import ConfigError
from pipelines.sources.cloudwatch_metrics.metric_query import MetricSeries
from pipelines.sources.cloudwatch_metrics.plan import plan_queries

ROOT = Path(__file__).resolve().parents[2]
LAKE = {"region": "us-east-1", "bucket": "acme-ml-lake", "database": "ml_monitoring"}
MONITORING = {"account_id": "999999999999", "role_arn": "arn:aws:iam::999999999999:role/MlLakeMonitoringReader"}


def config(sources: list[dict[str, Any]], cloudwatch: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"lake": LAKE, "sources": sources, **({"cloudwatch": cloudwatch} if cloudwatch is not None else {})}


def test_sources_read_with_their_role_unless_they_say_otherwise() -> None:
    parsed = parse_config(
        config(
            [
                {"account_id": "111111111111", "regions": ["us-east-1"]},
                {"account_id": "222222222222", "regions": ["us-east-1"], "cloudwatch_via": "monitoring_account"},
            ],
            {"monitoring_account": MONITORING},
        )
    )
    assert [s.cloudwatch_via for s in parsed.sources] == ["role", "monitoring_account"]
    assert parsed.cloudwatch.monitoring_account is not None
    assert parsed.cloudwatch.monitoring_account.account_id == "999999999999"
    assert parse_config(config([{"account_id": "111111111111", "regions": ["us-east-1"]}])).cloudwatch.monitoring_account is None


def test_example_config_reads_one_account_via_the_monitoring_account() -> None:
    example = load_config(ROOT / "docs" / "config.example.yaml")
    assert any(s.cloudwatch_via == "monitoring_account" for s in example.sources)
    assert example.cloudwatch.monitoring_account is not None


@pytest.mark.parametrize(
    ("sources", "cloudwatch", "fragment"),
    [
        (
            [{"account_id": "111111111111", "regions": ["us-east-1"], "cloudwatch_via": "monitoring_account"}],
            None,
            "cloudwatch.monitoring_account is not set",
        ),
        (
            [{"account_id": "111111111111", "regions": ["us-east-1"], "cloudwatch_via": "oam"}],
            {"monitoring_account": MONITORING},
            "sources.0.cloudwatch_via",
        ),
        (
            [{"account_id": "111111111111", "regions": ["us-east-1"]}],
            {"monitoring_account": {**MONITORING, "regions": ["us-east-1"]}},
            "cloudwatch.monitoring_account.regions: unknown key",
        ),
        (
            [{"account_id": "111111111111", "regions": ["us-east-1"]}],
            {"monitoring_account": {"role_arn": MONITORING["role_arn"]}},
            "cloudwatch.monitoring_account.account_id",
        ),
        (
            [{"account_id": "111111111111", "regions": ["us-east-1"]}],
            {"monitoring_account": {"account_id": "999999999999", "role_arn": "MlLakeMonitoringReader"}},
            "cloudwatch.monitoring_account.role_arn",
        ),
    ],
)
def test_errors_name_the_key(sources: list[dict[str, Any]], cloudwatch: dict[str, Any] | None, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        parse_config(config(sources, cloudwatch))


def test_cross_account_queries_name_the_owner_and_group_by_account() -> None:
    settings = parse_config(config([{"account_id": "111111111111", "regions": ["us-east-1"]}])).cloudwatch
    series = [
        MetricSeries(account, "us-east-1", "AWS/SageMaker", "Invocations", (("EndpointName", endpoint),))
        for endpoint in ("ep-b", "ep-a")
        for account in ("222222222222", "111111111111")
    ]
    queries = plan_queries(series, settings, cross_account=True)
    assert [q.series.account_id for q in queries] == ["111111111111"] * 10 + ["222222222222"] * 10
    assert [q.to_api()["AccountId"] for q in queries] == [q.series.account_id for q in queries]
    assert all("AccountId" not in q.to_api() for q in plan_queries(series, settings))
