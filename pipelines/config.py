"""Typed pipeline configuration loaded from one YAML file (contract: DESIGN.md)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from pipelines.errors import ConfigError

AccountId = Annotated[str, StringConstraints(pattern=r"^\d{12}$")]
ExternalId = Annotated[str, StringConstraints(min_length=2, max_length=1224, pattern=r"^[A-Za-z0-9+=,.@:/_-]+$")]
RoleArn = Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")]
Region = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or blank")
    return value


# A name people match on (business units): "" would match nothing, and in row_access it would mean "every unit".
Name = Annotated[str, AfterValidator(_not_blank)]
# CloudWatch's namespace rule (PutMetricData, ListMetrics): 1-255 of these characters, not starting with ':'.
Namespace = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/#-][A-Za-z0-9._/#: -]{0,254}$")]
MetricName = Annotated[str, StringConstraints(min_length=1, max_length=255)]
_PERCENTILE = re.compile(r"^p\d{1,2}(\.\d+)?$")
_PREFIX_FOLDER = re.compile(r"[A-Za-z0-9_.=-]{1,200}")
_STATISTICS = {"Average", "Sum", "Minimum", "Maximum", "SampleCount"}


class _Strict(BaseModel):
    # Unknown keys are typos until proven otherwise; frozen so stages cannot mutate settings.
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_yes_no_numbers(cls, value: object, info: ValidationInfo) -> object:
        # pydantic reads true as 1; YAML reads yes/no/on/off as booleans: `max_workers: yes` is a typo, not 1.
        if isinstance(value, bool) and info.field_name and cls.model_fields[info.field_name].annotation is not bool:
            raise ValueError(f"got {str(value).lower()} (YAML reads yes, no, on and off as booleans): not a value for this key")
        return value


class LakeConfig(_Strict):
    region: Region
    bucket: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    prefix: str = "lake/"
    database: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]+$")]
    athena_workgroup: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,128}$")] = "primary"

    @field_validator("prefix")
    @classmethod
    def _prefix_ends_with_slash(cls, value: str) -> str:
        """Folders of letters, digits and `_ . = -` only, never `.` or `..`: the prefix becomes every key of the lake."""
        value = value.lstrip("/")
        folders = value.rstrip("/").split("/") if value else []
        if any(not _PREFIX_FOLDER.fullmatch(f) or f in (".", "..") for f in folders):
            raise ValueError(f"{value!r}: folders of letters, digits and _ . = - only (no '..', '%', spaces or newlines)")
        return value if not value or value.endswith("/") else value + "/"

    def table_uri(self, table: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{table}/"


class AccountConfig(_Strict):
    account_id: AccountId
    role_arn: RoleArn | None = None
    external_id: ExternalId | None = None  # what the role's trust policy asks AssumeRole to present (sts:ExternalId)
    regions: Annotated[list[Region], Field(min_length=1)]
    # How its CloudWatch metrics are read: with its own role, or once for all linked accounts through the
    # monitoring account of CloudWatch cross-account observability (`cloudwatch.monitoring_account`).
    cloudwatch_via: Literal["role", "monitoring_account"] = "role"


class MonitoringAccountConfig(_Strict):
    """The OAM monitoring account: read in every region of the sources that name it (its sinks live there)."""

    account_id: AccountId
    # omit: the current credentials are already in the monitoring account
    role_arn: RoleArn | None = None
    external_id: ExternalId | None = None


class CloudWatchConfig(_Strict):
    namespaces: Annotated[list[Namespace], Field(min_length=1)] = [
        "AWS/SageMaker",
        "/aws/sagemaker/Endpoints",
        "aws/sagemaker/Endpoints/data-metrics",
        "aws/sagemaker/Endpoints/model-metrics",
    ]
    period_seconds: int = 300
    statistics: list[str] = ["Average", "Sum", "Minimum", "Maximum", "SampleCount"]
    percentiles: list[str] = ["p50", "p90", "p99"]
    # Percentiles are requested only for these metric names (they cost a query each).
    percentile_metrics: list[MetricName] = ["ModelLatency", "OverheadLatency"]
    lookback_days: Annotated[int, Field(ge=0, le=14)] = 1
    monitoring_account: MonitoringAccountConfig | None = None

    @field_validator("period_seconds")
    @classmethod
    def _period(cls, value: int) -> int:
        # CloudWatch accepts 1, 5, 10, 30 or any multiple of 60 seconds.
        if value not in (1, 5, 10, 30) and (value <= 0 or value % 60):
            raise ValueError("must be 1, 5, 10, 30 or a multiple of 60")
        if 86400 % value:
            raise ValueError("must divide a day (86400 s) so nights align to periods")
        return value

    @field_validator("statistics")
    @classmethod
    def _statistics(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - _STATISTICS)
        if unknown:
            raise ValueError(f"unknown statistics {unknown}; allowed: {sorted(_STATISTICS)}")
        return value

    @field_validator("percentiles")
    @classmethod
    def _percentiles(cls, value: list[str]) -> list[str]:
        bad = [p for p in value if not _PERCENTILE.fullmatch(p) or not 0 < float(p[1:]) < 100]
        if bad:
            raise ValueError(f"percentiles must look like p50, p99.9; got {bad}")
        return value


S3Uri = Annotated[str, StringConstraints(pattern=r"^s3://.+")]


class MonitorBaseline(_Strict):
    """Where an endpoint's baseline constraints live, when the schedule's baseline is known."""

    model_quality_constraints: S3Uri | None = None
    data_quality_constraints: S3Uri | None = None


class ModelMonitorConfig(_Strict):
    report_prefixes: list[S3Uri] = []
    baselines: dict[str, MonitorBaseline] = {}  # endpoint name -> baseline URIs
    max_workers: Annotated[int, Field(ge=1, le=64)] = 16  # concurrent report downloads
    max_report_bytes: Annotated[int, Field(ge=1024)] = 50_000_000  # larger objects are rejected, not read


class BusinessKpiConfig(_Strict):
    inbox: S3Uri | None = None


# Error classes counted per endpoint and hour in the endpoint's log group (regexes, case-insensitive).
DEFAULT_ERROR_PATTERNS = {
    "http_5xx": r"\b5\d\d\b",
    "timeout": r"timed? ?out|timeout",
    "out_of_memory": r"out of memory|OutOfMemory|OOM|MemoryError",
    "model_error": r"ModelError|Traceback|Exception",
}


class LogPatternsConfig(_Strict):
    enabled: bool = True
    error_patterns: dict[str, Annotated[str, StringConstraints(min_length=1)]] = DEFAULT_ERROR_PATTERNS
    query_timeout_seconds: Annotated[int, Field(ge=10, le=3600)] = 300

    @field_validator("error_patterns")
    @classmethod
    def _compiles(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        if not value and info.data.get("enabled", True):
            raise ValueError("no error patterns to count: name at least one, or set log_patterns.enabled: false")
        for name, pattern in value.items():
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"{name}: not a regular expression ({error})") from None
        return value


class EndpointConfig(_Strict):
    business_unit: Name
    product: str | None = None
    owner: str | None = None
    # Alarm thresholds of this endpoint, when they differ from alerts.latency_p99_ms / error_5xx_rate.
    latency_p99_ms: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    error_5xx_rate: Annotated[float, Field(gt=0, le=1)] | None = None


QuickSightPrincipal = Annotated[
    str, StringConstraints(pattern=r"^arn:aws[a-z-]*:quicksight:[a-z0-9-]+:\d{12}:(user|group)/[^/]+/.+$")
]


class QuickSightConfig(_Strict):
    account_id: AccountId
    owners: list[QuickSightPrincipal] = []
    viewers: list[QuickSightPrincipal] = []
    import_mode: Literal["SPICE", "DIRECT_QUERY"] = "SPICE"
    # Row-level security: a user or group ARN -> the business units it sees ([] = all of them). Empty: no rules.
    row_access: dict[QuickSightPrincipal, list[Name]] = {}
    # The daily SPICE refresh (UTC), placed after the nightly run; the nightly run also refreshes what it changed.
    refresh_at: Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "06:00"
    namespace: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")] = "default"


class ValidationConfig(_Strict):
    # Data Docs HTML: a local folder or an s3:// prefix; none when unset.
    data_docs: str | None = None
    # Row-count band: a partition outside [min, max] x the median of its trailing nights fails.
    trailing_nights: Annotated[int, Field(ge=1, le=31)] = 7
    # The band must hold the median itself, or a steady table fails every night.
    min_row_ratio: Annotated[float, Field(ge=0, le=1)] = 0.1
    max_row_ratio: Annotated[float, Field(ge=1, allow_inf_nan=False)] = 10.0
    # CloudWatch sums CPU and GPU utilisation over cores: 100 x the largest instance's vCPUs.
    max_vcpus: Annotated[int, Field(ge=1)] = 192
    metrics_namespace: Namespace = "MLLake"

    @field_validator("metrics_namespace")
    @classmethod
    def _not_aws(cls, value: str) -> str:
        if value.startswith("AWS/"):
            raise ValueError("AWS/ namespaces are reserved for AWS services: PutMetricData refuses them")
        return value


SnsTopicArn = Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")]
TargetArn = Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z-]*:(sagemaker|lambda|states):[a-z0-9-]+:\d{12}:.+$")]


class AlertsConfig(_Strict):
    # Where alarms and rules notify; a topic in the lake account (its policy must let source accounts publish).
    sns_topic_arn: SnsTopicArn | None = None
    # Endpoint alarms (in each endpoint's account and region), over `evaluation_minutes` of 5-minute periods.
    latency_p99_ms: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 1000.0
    error_5xx_rate: Annotated[float, Field(gt=0, le=1)] = 0.05
    evaluation_minutes: Annotated[int, Field(ge=5, le=1440, multiple_of=5)] = 15
    # When a drift or quality alarm fires: start this SageMaker pipeline / Lambda / state machine (optional).
    retrain_target_arn: TargetArn | None = None
    retrain_role_arn: RoleArn | None = None  # the role EventBridge uses to start it (SageMaker pipelines, Step Functions)
    # The role glue_jobs/reader-role.yaml makes in each source account for EventBridge to forward alerts to the lake's bus.
    forwarder_role_name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+=,.@_-]{1,64}$")] = "MlLakeEventForwarder"
    # The operations dashboard (CloudWatch, in the lake account and region).
    dashboard_name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,255}$")] = "ml-performance-lake"


class Config(_Strict):
    lake: LakeConfig
    sources: Annotated[list[AccountConfig], Field(min_length=1)]
    cloudwatch: CloudWatchConfig = CloudWatchConfig()
    model_monitor: ModelMonitorConfig = ModelMonitorConfig()
    business_kpis: BusinessKpiConfig = BusinessKpiConfig()
    log_patterns: LogPatternsConfig = LogPatternsConfig()
    endpoints: dict[str, EndpointConfig] = {}
    quicksight: QuickSightConfig | None = None
    validation: ValidationConfig = ValidationConfig()
    alerts: AlertsConfig = AlertsConfig()
    endpoint_url: Annotated[str, StringConstraints(pattern=r"^https?://.+")] | None = None

    @model_validator(mode="after")
    def _monitoring_account(self) -> Config:
        _check_monitoring_account(self.sources, self.cloudwatch)
        return self

    @model_validator(mode="after")
    def _topic_beside_the_lake(self) -> Config:
        """The lake's alarms notify the topic, and an alarm's topic must be in its region."""
        topic = self.alerts.sns_topic_arn
        if topic and topic.split(":")[3] != self.lake.region:
            raise ValueError(f"alerts.sns_topic_arn {topic} is not in lake.region {self.lake.region}: make the topic there")
        return self


def _check_monitoring_account(sources: list[AccountConfig], cloudwatch: CloudWatchConfig) -> None:
    """A source read via the monitoring account needs one configured."""
    via = [s.account_id for s in sources if s.cloudwatch_via == "monitoring_account"]
    if via and cloudwatch.monitoring_account is None:
        raise ValueError(f"sources {via} have cloudwatch_via: monitoring_account, but cloudwatch.monitoring_account is not set")


def _describe(error: ValidationError, origin: str) -> str:
    lines = [f"{origin}: invalid configuration"]
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
        lines.append(f"  {path}: {message}")
    return "\n".join(lines)


def parse_config(data: object, origin: str = "<config>") -> Config:
    """Validate already-parsed YAML; errors name every offending key path."""
    try:
        return Config.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_describe(error, origin)) from None


def load_config(path: str | Path) -> Config:
    """Read and validate the YAML configuration at `path`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read configuration ({error.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    return parse_config(data, str(path))
