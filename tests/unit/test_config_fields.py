"""Every config field refuses a bad value with an error naming the file, the key's path and what is wrong.

Each case writes a complete, valid YAML file with exactly one value made bad and loads it the way the CLI does
(`load_config`); a meta-test walks the models' `model_fields` so a new field without a case fails here.
"""

from __future__ import annotations

import copy
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from pipelines.config import Config, load_config
from pipelines.errors import ConfigError

QS = "arn:aws:quicksight:us-east-1:111111111111:group/default/"

# Every field of every model set to a valid value, so a case changes exactly one thing.
BASE: dict[str, Any] = {
    "lake": {
        "region": "us-east-1",
        "bucket": "acme-ml-lake",
        "prefix": "lake/",
        "database": "ml_monitoring",
        "athena_workgroup": "primary",
    },
    "sources": [
        {
            "account_id": "111111111111",
            "role_arn": "arn:aws:iam::111111111111:role/MlLakeReader",
            "external_id": "mlmon-lake-7f3a",
            "regions": ["us-east-1"],
            "cloudwatch_via": "role",
        }
    ],
    "cloudwatch": {
        "namespaces": ["AWS/SageMaker"],
        "period_seconds": 300,
        "statistics": ["Average"],
        "percentiles": ["p99"],
        "percentile_metrics": ["ModelLatency"],
        "lookback_days": 1,
        "monitoring_account": {
            "account_id": "999999999999",
            "role_arn": "arn:aws:iam::999999999999:role/MlLakeMonitoringReader",
            "external_id": "mlmon-oam-1",
        },
    },
    "model_monitor": {
        "report_prefixes": ["s3://sagemaker-us-east-1-111111111111/monitoring/"],
        "baselines": {
            "fraud-detector-prod": {
                "model_quality_constraints": "s3://acme-ml-lake/baselines/mq/constraints.json",
                "data_quality_constraints": "s3://acme-ml-lake/baselines/dq/constraints.json",
            }
        },
        "max_workers": 16,
        "max_report_bytes": 50_000_000,
    },
    "business_kpis": {"inbox": "s3://acme-ml-lake/inbox/kpis/"},
    "log_patterns": {"enabled": True, "error_patterns": {"timeout": "timed? ?out"}, "query_timeout_seconds": 300},
    "endpoints": {
        "fraud-detector-prod": {
            "business_unit": "Payments",
            "product": "Fraud screening",
            "owner": "risk-ml",
            "latency_p99_ms": 250.0,
            "error_5xx_rate": 0.01,
        }
    },
    "quicksight": {
        "account_id": "111111111111",
        "owners": [QS + "mlops"],
        "viewers": [QS + "executives"],
        "import_mode": "SPICE",
        "row_access": {QS + "executives": ["Payments"]},
        "refresh_at": "06:00",
        "namespace": "default",
    },
    "validation": {
        "data_docs": "s3://acme-ml-lake/data-docs/",
        "trailing_nights": 7,
        "min_row_ratio": 0.1,
        "max_row_ratio": 10.0,
        "max_vcpus": 192,
        "metrics_namespace": "MLLake",
    },
    "alerts": {
        "sns_topic_arn": "arn:aws:sns:us-east-1:111111111111:ml-lake-alerts",
        "latency_p99_ms": 1000.0,
        "error_5xx_rate": 0.05,
        "evaluation_minutes": 15,
        "retrain_target_arn": "arn:aws:sagemaker:us-east-1:111111111111:pipeline/retrain",
        "retrain_role_arn": "arn:aws:iam::111111111111:role/EventBridgeStartPipeline",
        "forwarder_role_name": "MlLakeEventForwarder",
        "dashboard_name": "ml-performance-lake",
    },
    "endpoint_url": "http://localhost:4566",
}


def _unwrap(annotation: Any) -> list[tuple[str, Any]]:
    """(path suffix, type) of what `annotation` holds: `.*` for a list item or dict value, Optional and Annotated peeled."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _unwrap(args[0])
    if origin in (Union, types.UnionType):
        return [inner for arg in args if arg is not type(None) for inner in _unwrap(arg)]
    if origin is list:
        return [(".*" + suffix, inner) for suffix, inner in _unwrap(args[0])]
    if origin is dict:
        return [(".*" + suffix, inner) for suffix, inner in _unwrap(args[1])]
    return [("", annotation)]


def _walk(model: type[BaseModel], prefix: str = "") -> list[tuple[str, FieldInfo]]:
    """(path, field) of every field of `model` and of every model inside it, e.g. `sources.*.role_arn`."""
    found = []
    for name, info in model.model_fields.items():
        found.append((prefix + name, info))
        for suffix, inner in _unwrap(info.annotation):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                found += _walk(inner, f"{prefix}{name}{suffix}.")
    return found


FIELDS = dict(_walk(Config))
# Where a model sits: "" (the top), "lake", "sources.*", "cloudwatch.monitoring_account", ...
MODELS = [""] + [
    path + suffix
    for path, info in FIELDS.items()
    for suffix, inner in _unwrap(info.annotation)
    if isinstance(inner, type) and issubclass(inner, BaseModel)
]


def _concrete(path: str) -> list[str | int]:
    """`sources.*.role_arn` -> ["sources", 0, "role_arn"]: each `*` is BASE's first item or key there."""
    keys: list[str | int] = []
    node: Any = BASE
    for part in path.split(".") if path else []:
        key: str | int = part
        if part == "*":
            key = 0 if isinstance(node, list) else next(iter(node))
        keys.append(key)
        node = node[key]
    return keys


def _loc(keys: list[str | int]) -> str:
    return ".".join(str(key) for key in keys)


def _load_with(tmp_path: Path, keys: list[str | int], value: Any = None, *, delete: bool = False) -> str:
    """Load BASE with `value` at `keys` (or that key removed) through `load_config`; the error's message."""
    data = copy.deepcopy(BASE)
    node: Any = data
    for key in keys[:-1]:
        node = node[key]
    if delete:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.splitlines()[0] == f"{path}: invalid configuration"  # names the file
    return message


def _only_error(message: str) -> str:
    """The one `path: what is wrong` line: only the changed value is bad."""
    errors = message.splitlines()[1:]
    assert len(errors) == 1, message
    return errors[0].strip()


@dataclass(frozen=True)
class Case:
    field: str  # as FIELDS names it
    value: Any
    says: str  # a fragment of what the user reads after the key's path
    loc: str | None = None  # where the error points when not at the field itself (an item, a dict key)


CASES = [
    Case("lake", "acme-ml-lake", "valid dictionary"),
    Case("lake.region", "US East", "should match pattern"),
    Case("lake.bucket", "Acme_Lake", "should match pattern"),
    Case("lake.prefix", "lake/../other-team/", "folders of letters, digits"),
    Case("lake.database", "ml-monitoring", "should match pattern"),
    Case("lake.athena_workgroup", "", "should match pattern"),
    Case("sources", [], "at least 1 item"),
    Case("sources.*.account_id", "1111-1111-1111", "should match pattern"),
    Case("sources.*.role_arn", "MlLakeReader", "should match pattern"),
    Case("sources.*.external_id", "x", "at least 2 characters"),
    Case("sources.*.regions", ["us-east-1", "Europe"], "should match pattern", loc="sources.0.regions.1"),
    Case("sources.*.cloudwatch_via", "oam", "'role' or 'monitoring_account'"),
    Case("cloudwatch", ["AWS/SageMaker"], "valid dictionary"),
    Case("cloudwatch.namespaces", [], "at least 1 item"),
    Case("cloudwatch.period_seconds", 90, "multiple of 60"),
    Case("cloudwatch.statistics", ["Mean"], "unknown statistics ['Mean']"),
    Case("cloudwatch.percentiles", ["p100"], "must look like p50"),
    Case("cloudwatch.percentile_metrics", [""], "at least 1 character", loc="cloudwatch.percentile_metrics.0"),
    Case("cloudwatch.lookback_days", 30, "less than or equal to 14"),
    Case("cloudwatch.monitoring_account", "999999999999", "valid dictionary"),
    Case("cloudwatch.monitoring_account.account_id", 999999999999, "valid string"),
    Case("cloudwatch.monitoring_account.role_arn", "arn:aws:iam::999999999999:user/me", "should match pattern"),
    Case("cloudwatch.monitoring_account.external_id", "has spaces in it", "should match pattern"),
    Case("model_monitor", None, "valid dictionary"),
    Case(
        "model_monitor.report_prefixes",
        ["sagemaker-bucket/monitoring/"],
        "should match pattern",
        "model_monitor.report_prefixes.0",
    ),
    Case("model_monitor.baselines", ["s3://acme-ml-lake/baselines/"], "valid dictionary"),
    Case("model_monitor.baselines.*.model_quality_constraints", "/tmp/constraints.json", "should match pattern"),
    Case("model_monitor.baselines.*.data_quality_constraints", "https://example.com/c.json", "should match pattern"),
    Case("model_monitor.max_workers", 0, "greater than or equal to 1"),
    Case("model_monitor.max_report_bytes", 10, "greater than or equal to 1024"),
    Case("business_kpis", "s3://acme-ml-lake/inbox/", "valid dictionary"),
    Case("business_kpis.inbox", "acme-ml-lake/inbox/", "should match pattern"),
    Case("log_patterns", True, "got true"),
    Case("log_patterns.enabled", "sometimes", "valid boolean"),
    Case("log_patterns.error_patterns", {"oops": "(unclosed"}, "oops: not a regular expression"),
    Case("log_patterns.query_timeout_seconds", 5, "greater than or equal to 10"),
    Case("endpoints", ["fraud-detector-prod"], "valid dictionary"),
    Case("endpoints.*.business_unit", "  ", "must not be empty or blank"),
    Case("endpoints.*.product", ["Fraud screening"], "valid string"),
    Case("endpoints.*.owner", {"team": "risk-ml"}, "valid string"),
    Case("endpoints.*.latency_p99_ms", -5, "greater than 0"),
    Case("endpoints.*.error_5xx_rate", 5, "less than or equal to 1"),
    Case("quicksight", [], "valid dictionary"),
    Case("quicksight.account_id", "acme", "should match pattern"),
    Case("quicksight.owners", ["mlops"], "should match pattern", loc="quicksight.owners.0"),
    Case("quicksight.viewers", ["executives@acme.com"], "should match pattern", loc="quicksight.viewers.0"),
    Case("quicksight.import_mode", "spice", "'SPICE' or 'DIRECT_QUERY'"),
    Case("quicksight.row_access", {QS + "leads": [""]}, "must not be empty or blank", f"quicksight.row_access.{QS}leads.0"),
    Case("quicksight.refresh_at", "6am", "should match pattern"),
    Case("quicksight.namespace", "", "should match pattern"),
    Case("validation", "strict", "valid dictionary"),
    Case("validation.data_docs", 7, "valid string"),
    Case("validation.trailing_nights", 0, "greater than or equal to 1"),
    Case("validation.min_row_ratio", -0.5, "greater than or equal to 0"),
    Case("validation.max_row_ratio", 0.5, "greater than or equal to 1"),
    Case("validation.max_vcpus", -1, "greater than or equal to 1"),
    Case("validation.metrics_namespace", "AWS/MLLake", "reserved for AWS services"),
    Case("alerts", 1, "valid dictionary"),
    Case("alerts.sns_topic_arn", "ml-lake-alerts", "should match pattern"),
    Case("alerts.latency_p99_ms", 0, "greater than 0"),
    Case("alerts.error_5xx_rate", 5, "less than or equal to 1"),
    Case("alerts.evaluation_minutes", 7, "multiple of 5"),
    Case("alerts.retrain_target_arn", "arn:aws:s3:::bucket", "should match pattern"),
    Case("alerts.retrain_role_arn", "EventBridgeStartPipeline", "should match pattern"),
    Case("alerts.forwarder_role_name", "Ml Lake Forwarder", "should match pattern"),
    Case("alerts.dashboard_name", "ml lake", "should match pattern"),
    Case("endpoint_url", "localhost:4566", "should match pattern"),
]


def test_every_field_of_every_model_has_a_case() -> None:
    named = [case.field for case in CASES]
    assert len(named) == len(set(named)), "one case per field"
    assert set(named) == set(FIELDS), f"missing: {sorted(set(FIELDS) - set(named))}, unknown: {sorted(set(named) - set(FIELDS))}"


def test_base_is_valid_and_sets_every_field() -> None:
    """Otherwise a case could fail for a reason other than its value, or a field would be tested only by its default."""
    config = Config.model_validate(BASE)
    assert config.lake.bucket == "acme-ml-lake"
    for path in FIELDS:
        _concrete(path)  # raises KeyError when BASE lacks the field


@pytest.mark.parametrize("case", CASES, ids=[case.field for case in CASES])
def test_a_bad_value_is_refused_naming_the_key(case: Case, tmp_path: Path) -> None:
    keys = _concrete(case.field)
    error = _only_error(_load_with(tmp_path, keys, case.value))
    path, _, says = error.partition(": ")
    assert path == (case.loc or _loc(keys))
    assert case.says in says


def _wrong_type(info: FieldInfo) -> Any:
    """A value of the wrong shape: a number where a list, mapping or section belongs, else a list."""
    holds = [inner for suffix, inner in _unwrap(info.annotation) if not suffix]
    container = get_origin(info.annotation) in (list, dict) or any(
        isinstance(inner, type) and issubclass(inner, BaseModel) for inner in holds
    )
    return 7 if container else ["a", "list"]


@pytest.mark.parametrize("field", list(FIELDS))
def test_a_value_of_the_wrong_type_is_refused_saying_what_is_expected(field: str, tmp_path: Path) -> None:
    keys = _concrete(field)
    error = _only_error(_load_with(tmp_path, keys, _wrong_type(FIELDS[field])))
    assert error.startswith(f"{_loc(keys)}: Input should be")


@pytest.mark.parametrize("field", [path for path, info in FIELDS.items() if info.is_required()])
def test_a_missing_required_field_is_named(field: str, tmp_path: Path) -> None:
    keys = _concrete(field)
    assert _only_error(_load_with(tmp_path, keys, delete=True)) == f"{_loc(keys)}: Field required"


def test_the_required_fields_are_the_documented_ones() -> None:
    assert {path for path, info in FIELDS.items() if info.is_required()} == {
        "lake",
        "lake.region",
        "lake.bucket",
        "lake.database",
        "sources",
        "sources.*.account_id",
        "sources.*.regions",
        "cloudwatch.monitoring_account.account_id",
        "endpoints.*.business_unit",
        "quicksight.account_id",
    }


@pytest.mark.parametrize("model", MODELS, ids=[model or "(top)" for model in MODELS])
def test_an_unknown_key_is_refused_in_every_section(model: str, tmp_path: Path) -> None:
    keys = [*_concrete(model), "colour"]
    assert _only_error(_load_with(tmp_path, keys, "red")) == f"{_loc(keys)}: unknown key"


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("model_monitor.max_workers", True, "got true (YAML reads yes, no, on and off as booleans)"),
        ("cloudwatch.period_seconds", True, "got true"),
        ("validation.max_row_ratio", float("inf"), "finite number"),
        ("alerts.latency_p99_ms", float("inf"), "finite number"),
        ("endpoints.*.latency_p99_ms", float("inf"), "finite number"),
        ("validation.min_row_ratio", 2.0, "less than or equal to 1"),
        ("cloudwatch.percentiles", ["p50\n"], "must look like p50"),
        ("cloudwatch.namespaces", ["AWS/SageMaker", ":colon-first"], "should match pattern"),
        ("validation.metrics_namespace", "", "should match pattern"),
        ("log_patterns.error_patterns", {}, "no error patterns to count"),
        ("lake.athena_workgroup", "my workgroup", "should match pattern"),
        ("quicksight.namespace", "../default", "should match pattern"),
    ],
)
def test_values_that_used_to_load_are_refused(field: str, value: Any, says: str, tmp_path: Path) -> None:
    """Each was accepted before and failed later (at AWS, in the gate) or silently did the wrong thing."""
    keys = _concrete(field)
    error = _only_error(_load_with(tmp_path, keys, value))
    assert error.split(": ", 1)[0].startswith(_loc(keys))
    assert says in error


def test_yes_no_still_means_true_false_where_a_switch_belongs(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.yaml"
    data = copy.deepcopy(BASE)
    data["log_patterns"] = {"enabled": False, "error_patterns": {}}
    path.write_text(yaml.safe_dump(data).replace("enabled: false", "enabled: no"), encoding="utf-8")
    config = load_config(path)
    assert config.log_patterns.enabled is False and config.log_patterns.error_patterns == {}
