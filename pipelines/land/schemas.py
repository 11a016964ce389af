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

TABLES: dict[str, TableSpec] = {
    spec.name: spec for spec in (CLOUDWATCH_METRICS, ENDPOINTS, PIPELINE_RUNS, VALIDATION_RESULTS)
}
# Fact tables are write-audit-published; the others are logs the pipeline appends to.
AUDITED = (CLOUDWATCH_METRICS, ENDPOINTS)
