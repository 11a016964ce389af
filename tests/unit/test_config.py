"""Configuration: the DESIGN.md example loads; every error names the key's path."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from pipelines.config import load_config, parse_config
from pipelines.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

MINIMAL = {
    "lake": {"region": "us-east-1", "bucket": "acme-ml-lake", "database": "ml_monitoring"},
    "sources": [{"account_id": "111111111111", "regions": ["us-east-1"]}],
}


def test_example_config_in_docs_loads() -> None:
    config = load_config(ROOT / "docs" / "config.example.yaml")
    assert config.lake.table_uri("cloudwatch_metrics") == "s3://acme-ml-lake/lake/cloudwatch_metrics/"
    assert config.cloudwatch.percentiles == ["p50", "p90", "p99"]
    assert config.endpoints["fraud-detector-prod"].business_unit == "Payments"
    assert config.endpoint_url is None


def test_defaults_fill_optional_sections() -> None:
    config = parse_config(MINIMAL)
    assert config.cloudwatch.period_seconds == 300
    assert config.cloudwatch.lookback_days == 1
    assert config.lake.prefix == "lake/"


@pytest.mark.parametrize(
    ("patch", "path", "fragment"),
    [
        ({"lake": {**MINIMAL["lake"], "bucket_name": "x"}}, "lake.bucket_name", "unknown key"),
        ({"sources": [{"account_id": "1234", "regions": ["us-east-1"]}]}, "sources.0.account_id", "pattern"),
        ({"sources": [{"account_id": "111111111111", "regions": "us-east-1"}]}, "sources.0.regions", "list"),
        ({"cloudwatch": {"period_seconds": 90}}, "cloudwatch.period_seconds", "multiple of 60"),
        ({"cloudwatch": {"statistics": ["Mean"]}}, "cloudwatch.statistics", "unknown statistics"),
        ({"cloudwatch": {"percentiles": ["p100"]}}, "cloudwatch.percentiles", "p50"),
        ({"cloudwatch": {"lookback_days": "soon"}}, "cloudwatch.lookback_days", "integer"),
        ({"endpoints": {"ep": {"business_unit": "X", "team": "y"}}}, "endpoints.ep.team", "unknown key"),
        ({"surprise": 1}, "surprise", "unknown key"),
    ],
)
def test_errors_name_the_key(patch: dict, path: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({**MINIMAL, **patch}, origin="cfg.yaml")
    message = str(caught.value)
    assert message.startswith("cfg.yaml: invalid configuration")
    line = next(text for text in message.splitlines() if text.strip().startswith(path + ":"))
    assert fragment in line


def test_missing_file_and_bad_yaml_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.yaml: cannot read"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("lake: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_config(bad)


def test_config_is_frozen() -> None:
    config = parse_config(MINIMAL)
    with pytest.raises(ValidationError):
        config.lake.bucket = "other"  # type: ignore[misc]
