"""The table contracts of DESIGN.md as Arrow schemas: one entry per table, one name everywhere."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

TIMESTAMP = pa.timestamp("us")  # UTC, naive: Athena's `timestamp` has no zone


@dataclass(frozen=True)
class TableSpec:
    """A lake table: its columns, whether it is partitioned by `dt`, and its natural key."""

    name: str
    schema: pa.Schema
    partitioned: bool = True
    key: tuple[str, ...] = ()
    description: str = ""

    def glue_columns(self) -> dict[str, str]:
        return {f.name: glue_type(f.type) for f in self.schema}


def glue_type(arrow_type: pa.DataType) -> str:
    """The Glue/Athena DDL type of an Arrow type."""
    if pa.types.is_map(arrow_type):
        return f"map<{glue_type(arrow_type.key_type)},{glue_type(arrow_type.item_type)}>"
    if pa.types.is_list(arrow_type):
        return f"array<{glue_type(arrow_type.value_type)}>"
    if pa.types.is_dictionary(arrow_type):
        return glue_type(arrow_type.value_type)
    simple = {
        pa.string(): "string",
        pa.large_string(): "string",
        pa.float64(): "double",
        pa.float32(): "float",
        pa.int64(): "bigint",
        pa.int32(): "int",
        pa.bool_(): "boolean",
        TIMESTAMP: "timestamp",
        pa.date32(): "date",
    }
    try:
        return simple[arrow_type]
    except KeyError:
        raise TypeError(f"no Glue type for {arrow_type}") from None


CLOUDWATCH_METRICS = TableSpec(
    name="cloudwatch_metrics",
    description="One statistic of one CloudWatch metric for one period.",
    schema=pa.schema(
        [
            pa.field("account_id", pa.string(), nullable=False),
            pa.field("region", pa.string(), nullable=False),
            pa.field("namespace", pa.string(), nullable=False),
            pa.field("metric_name", pa.string(), nullable=False),
            pa.field("dimensions", pa.map_(pa.string(), pa.string()), nullable=False),
            pa.field("endpoint_name", pa.string()),
            pa.field("variant_name", pa.string()),
            pa.field("stat", pa.string(), nullable=False),
            pa.field("period_seconds", pa.int32(), nullable=False),
            pa.field("ts", TIMESTAMP, nullable=False),
            pa.field("value", pa.float64()),
            pa.field("unit", pa.string()),
        ]
    ),
    key=("account_id", "region", "namespace", "metric_name", "dimensions", "stat", "period_seconds", "ts"),
)

ENDPOINTS = TableSpec(
    name="endpoints",
    description="One endpoint's business mapping, from config.",
    partitioned=False,
    schema=pa.schema(
        [
            pa.field("endpoint_name", pa.string(), nullable=False),
            pa.field("business_unit", pa.string(), nullable=False),
            pa.field("product", pa.string()),
            pa.field("owner", pa.string()),
        ]
    ),
    key=("endpoint_name",),
)

PIPELINE_RUNS = TableSpec(
    name="pipeline_runs",
    description="One table's load for one night.",
    schema=pa.schema(
        [
            pa.field("run_id", pa.string(), nullable=False),
            pa.field("table_name", pa.string(), nullable=False),
            pa.field("rows", pa.int64(), nullable=False),
            pa.field("status", pa.string(), nullable=False),  # published, quarantined, failed
            pa.field("failed_expectations", pa.list_(pa.string())),
            pa.field("message", pa.string()),
            pa.field("api_calls", pa.int64()),
            pa.field("cost_usd", pa.float64()),
            pa.field("started_at", TIMESTAMP, nullable=False),
            pa.field("finished_at", TIMESTAMP, nullable=False),
        ]
    ),
    key=("run_id", "table_name"),
)

VALIDATION_RESULTS = TableSpec(
    name="validation_results",
    description="One expectation's result for one table's partition in one run.",
    schema=pa.schema(
        [
            pa.field("run_id", pa.string(), nullable=False),
            pa.field("table_name", pa.string(), nullable=False),
            pa.field("expectation", pa.string(), nullable=False),
            pa.field("column", pa.string()),
            pa.field("severity", pa.string(), nullable=False),  # critical, warning
            pa.field("success", pa.bool_(), nullable=False),
            pa.field("skipped", pa.bool_(), nullable=False),
            pa.field("unexpected_count", pa.int64()),
            pa.field("element_count", pa.int64()),
            pa.field("observed", pa.string()),  # JSON
            pa.field("examples", pa.string()),  # JSON
            pa.field("evaluated_at", TIMESTAMP, nullable=False),
        ]
    ),
    key=("run_id", "table_name", "expectation"),
)


def _fields(*specs: tuple[str, pa.DataType, bool]) -> list[pa.Field]:
    return [pa.field(name, kind, nullable=nullable) for name, kind, nullable in specs]


# The keys every Model Monitor row repeats: which execution (report folder) it came from.
EXECUTION_FIELDS = _fields(
    ("account_id", pa.string(), False),
    ("region", pa.string(), False),
    ("endpoint_name", pa.string(), True),  # null for batch-transform monitors
    ("schedule_name", pa.string(), False),
    ("monitoring_type", pa.string(), False),  # DataQuality, ModelQuality, ModelBias, ModelExplainability
    ("scheduled_hour", TIMESTAMP, False),
)
EXECUTION_KEY = ("account_id", "region", "endpoint_name", "schedule_name", "monitoring_type", "scheduled_hour")
SOURCE_URI = pa.field("source_uri", pa.string(), nullable=False)


def _report_table(name: str, description: str, extra: list[pa.Field], key: tuple[str, ...]) -> TableSpec:
    return TableSpec(name, pa.schema([*EXECUTION_FIELDS, *extra, SOURCE_URI]), key=EXECUTION_KEY + key, description=description)


MONITOR_EXECUTIONS = _report_table(
    "monitor_executions",
    "One Model Monitor execution (report folder).",
    _fields(
        ("violation_count", pa.int64(), False), ("item_count", pa.int64(), True), ("report_files", pa.list_(pa.string()), False)
    ),
    (),
)
MONITOR_VIOLATIONS = _report_table(
    "monitor_violations",
    "One violation in a constraint_violations.json.",
    _fields(
        ("feature_name", pa.string(), True),
        ("metric_name", pa.string(), True),
        ("label", pa.string(), True),
        ("facet", pa.string(), True),
        ("facet_value", pa.string(), True),
        ("constraint_check_type", pa.string(), False),
        ("description", pa.string(), True),
        ("observed_value", pa.float64(), True),
        ("threshold_value", pa.float64(), True),
        # What the entry says that no column above holds (bring-your-own containers add keys), as canonical JSON:
        # two findings that differ only there stay two rows.
        ("details", pa.string(), True),
    ),
    ("feature_name", "metric_name", "label", "facet", "facet_value", "constraint_check_type", "details"),
)
MONITOR_FEATURE_STATISTICS = _report_table(
    "monitor_feature_statistics",
    "One feature in a data-quality statistics.json.",
    _fields(
        ("feature_name", pa.string(), False),
        ("inferred_type", pa.string(), True),
        ("item_count", pa.int64(), True),
        ("num_present", pa.int64(), True),
        ("num_missing", pa.int64(), True),
        ("mean", pa.float64(), True),
        ("sum", pa.float64(), True),
        ("std_dev", pa.float64(), True),
        ("min", pa.float64(), True),
        ("max", pa.float64(), True),
        ("distinct_count", pa.float64(), True),
    ),
    ("feature_name",),
)
MODEL_QUALITY_METRICS = _report_table(
    "model_quality_metrics",
    "One scalar metric of a model-quality statistics.json, with its baseline threshold when known.",
    _fields(
        ("problem_type", pa.string(), False),
        ("metric_name", pa.string(), False),
        ("value", pa.float64(), True),
        ("standard_deviation", pa.float64(), True),
        ("threshold", pa.float64(), True),
        ("comparison_operator", pa.string(), True),
    ),
    ("problem_type", "metric_name"),
)
BIAS_METRICS = _report_table(
    "bias_metrics",
    "One Clarify bias metric for one facet value.",
    _fields(
        ("stage", pa.string(), False),
        ("label", pa.string(), True),
        ("facet", pa.string(), False),
        ("facet_value", pa.string(), True),
        ("metric_name", pa.string(), False),
        ("value", pa.float64(), True),
        ("error", pa.string(), True),
    ),
    ("stage", "facet", "facet_value", "metric_name"),
)
FEATURE_ATTRIBUTIONS = _report_table(
    "feature_attributions",
    "One feature's global SHAP value.",
    _fields(
        ("label", pa.string(), True),
        ("feature_name", pa.string(), False),
        ("shap_value", pa.float64(), True),
        ("expected_value", pa.float64(), True),
    ),
    ("label", "feature_name"),
)
SOURCE_REJECTIONS = TableSpec(
    name="source_rejections",
    description="One source object that could not be read at all (a report or a KPI file), and why.",
    schema=pa.schema(
        _fields(
            ("source", pa.string(), False),  # model_monitor, business_kpis
            ("account_id", pa.string(), True),
            ("region", pa.string(), True),
            ("source_uri", pa.string(), False),
            ("reason", pa.string(), False),
            ("size_bytes", pa.int64(), True),
            ("detected_at", TIMESTAMP, False),
        )
    ),
    key=("source", "source_uri"),
)
BUSINESS_KPIS = TableSpec(
    name="business_kpis",
    description="One KPI value for one business unit and day (partition: the KPI's own date).",
    schema=pa.schema(
        _fields(
            ("business_unit", pa.string(), False),
            ("kpi_name", pa.string(), False),
            ("value", pa.float64(), False),
            ("unit", pa.string(), True),
            ("source_uri", pa.string(), False),
            ("loaded_at", TIMESTAMP, False),
        )
    ),
    key=("business_unit", "kpi_name"),
)
ENDPOINT_MODELS = TableSpec(
    name="endpoint_models",
    description="Which model served an endpoint's variant on a day: endpoint -> config -> model -> package.",
    schema=pa.schema(
        _fields(
            ("account_id", pa.string(), False),
            ("region", pa.string(), False),
            ("endpoint_name", pa.string(), False),
            ("endpoint_status", pa.string(), True),
            ("endpoint_config_name", pa.string(), True),
            ("variant_name", pa.string(), False),
            ("instance_type", pa.string(), True),
            ("instance_count", pa.int64(), True),
            ("model_name", pa.string(), True),
            ("image", pa.string(), True),
            ("model_data_url", pa.string(), True),
            ("model_package_arn", pa.string(), True),
            ("model_package_group", pa.string(), True),
            ("model_version", pa.int64(), True),
            ("approval_status", pa.string(), True),
            ("model_created_at", TIMESTAMP, True),
            ("observed_at", TIMESTAMP, False),
        )
    ),
    key=("account_id", "region", "endpoint_name", "variant_name"),
)
ENDPOINT_LOG_PATTERNS = TableSpec(
    name="endpoint_log_patterns",
    description="How many log lines of one error class an endpoint wrote in one hour.",
    schema=pa.schema(
        _fields(
            ("account_id", pa.string(), False),
            ("region", pa.string(), False),
            ("endpoint_name", pa.string(), False),
            ("log_group", pa.string(), False),
            ("hour", TIMESTAMP, False),
            ("error_class", pa.string(), False),
            ("count", pa.int64(), False),
            ("sample_message", pa.string(), True),
        )
    ),
    key=("account_id", "region", "endpoint_name", "hour", "error_class"),
)

TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        CLOUDWATCH_METRICS,
        ENDPOINTS,
        PIPELINE_RUNS,
        VALIDATION_RESULTS,
        MONITOR_EXECUTIONS,
        MONITOR_VIOLATIONS,
        MONITOR_FEATURE_STATISTICS,
        MODEL_QUALITY_METRICS,
        BIAS_METRICS,
        FEATURE_ATTRIBUTIONS,
        SOURCE_REJECTIONS,
        BUSINESS_KPIS,
        ENDPOINT_MODELS,
        ENDPOINT_LOG_PATTERNS,
    )
}
# Logs the pipeline appends to; every other table is write-audit-published.
LOGS = (PIPELINE_RUNS, VALIDATION_RESULTS, SOURCE_REJECTIONS)
AUDITED = tuple(spec for spec in TABLES.values() if spec not in LOGS)
