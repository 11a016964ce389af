"""Model Monitor executions and their parsed files -> the six report tables, exactly as the contracts declare them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from pipelines.lake.schemas import (
    BIAS_METRICS,
    FEATURE_ATTRIBUTIONS,
    MODEL_QUALITY_METRICS,
    MONITOR_EXECUTIONS,
    MONITOR_FEATURE_STATISTICS,
    MONITOR_VIOLATIONS,
    TableSpec,
)
from pipelines.sources.model_monitor.documents import (
    MODEL_QUALITY,
    QUALITY_METRICS,
    VIOLATION_ROWS,
    ParsedReport,
    Thresholds,
    snake_case,
)
from pipelines.sources.model_monitor.reports import ANALYSIS, CONSTRAINTS, STATISTICS, VIOLATIONS, Execution

REPORT_TABLES: tuple[TableSpec, ...] = (
    MONITOR_EXECUTIONS,
    MONITOR_VIOLATIONS,
    MONITOR_FEATURE_STATISTICS,
    MODEL_QUALITY_METRICS,
    BIAS_METRICS,
    FEATURE_ATTRIBUTIONS,
)
# Which file's shape decides the monitoring type when files disagree: the richest first.
_EVIDENCE_ORDER = (ANALYSIS, STATISTICS, CONSTRAINTS, VIOLATIONS)


@dataclass(frozen=True)
class ExecutionReport:
    """One execution and what each of its readable report files said (by object URI)."""

    execution: Execution
    parsed: dict[str, ParsedReport] = field(default_factory=dict)

    def evidence(self) -> str | None:
        """The monitoring type the files' shapes imply (analysis > statistics > constraints > violations)."""
        found = {p.kind: p.evidence for p in self.parsed.values() if p.evidence}
        return next((found[kind] for kind in _EVIDENCE_ORDER if kind in found), None)


@dataclass(frozen=True)
class Undetermined:
    """An execution whose files say nothing about its monitoring type (and whose schedule's siblings do not either)."""

    execution: Execution
    reason: str


def monitoring_types(reports: Iterable[ExecutionReport]) -> tuple[dict[str, str], list[Undetermined]]:
    """Execution URI -> monitoring type: from its own files, else from its schedule's other executions that night.

    A schedule has one monitoring type, so an execution with only an empty violations file or
    only unreadable files takes the type its siblings show.
    """
    own = [(report, report.evidence()) for report in reports]
    by_schedule: dict[tuple[Any, ...], Counter[str]] = {}
    for report, evidence in own:
        if evidence:
            by_schedule.setdefault(_schedule_key(report.execution), Counter())[evidence] += 1
    types, undetermined = {}, []
    for report, evidence in own:
        siblings = by_schedule.get(_schedule_key(report.execution))
        if evidence is None and siblings:
            evidence = siblings.most_common(1)[0][0]
        if evidence is None:
            files = ", ".join(report.execution.report_files) or "no files"
            undetermined.append(Undetermined(report.execution, f"cannot tell the monitoring type from its files ({files})"))
        else:
            types[report.execution.uri] = evidence
    return types, undetermined


def _schedule_key(execution: Execution) -> tuple[Any, ...]:
    return (execution.account_id, execution.region, execution.endpoint_name, execution.schedule_name)


def execution_rows(
    report: ExecutionReport, monitoring_type: str, baseline: Thresholds | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows for one execution; each row carries the execution's keys and its file's URI.

    Model-quality metrics take their threshold and operator from `baseline` (the endpoint's
    configured constraints), else from a constraints.json in the execution folder.
    """
    execution = report.execution
    keys = {
        "account_id": execution.account_id,
        "region": execution.region,
        "endpoint_name": execution.endpoint_name,
        "schedule_name": execution.schedule_name,
        "monitoring_type": monitoring_type,
        "scheduled_hour": execution.scheduled_hour,
    }
    thresholds = baseline if baseline is not None else _folder_thresholds(report)
    tables: dict[str, list[dict[str, Any]]] = {spec.name: [] for spec in REPORT_TABLES}
    for uri, parsed in sorted(report.parsed.items()):
        for table, rows in parsed.rows.items():
            for row in rows:
                row = {**keys, **row, "source_uri": uri}
                if table == QUALITY_METRICS:
                    row["threshold"], row["comparison_operator"] = thresholds.get(
                        (row["problem_type"], row["metric_name"]), (None, None)
                    )
                elif table == VIOLATION_ROWS and monitoring_type == MODEL_QUALITY and row["metric_name"]:
                    row["metric_name"] = snake_case(row["metric_name"])  # truePositiveRate, as in statistics
                tables[table].append(row)
    tables[MONITOR_EXECUTIONS.name].append(
        {
            **keys,
            "violation_count": len(tables[VIOLATION_ROWS]),
            "item_count": _item_count(report),
            "report_files": execution.report_files,
            "source_uri": execution.uri,
        }
    )
    return tables


def _folder_thresholds(report: ExecutionReport) -> Thresholds:
    merged: Thresholds = {}
    for parsed in report.parsed.values():
        if parsed.kind == CONSTRAINTS:
            merged.update(parsed.thresholds)
    return merged


def _item_count(report: ExecutionReport) -> int | None:
    counts = [p.item_count for p in report.parsed.values() if p.kind == STATISTICS and p.item_count is not None]
    return counts[0] if counts else None


def monitor_tables(
    reports: Iterable[ExecutionReport], baselines: Mapping[str, Thresholds] | None = None
) -> tuple[dict[str, pa.Table], list[Undetermined]]:
    """The six report tables for `reports` (one execution each) and the executions left out.

    `baselines` maps endpoint name -> model-quality thresholds from its baseline constraints.
    """
    reports = list(reports)
    types, undetermined = monitoring_types(reports)
    rows: dict[str, list[dict[str, Any]]] = {spec.name: [] for spec in REPORT_TABLES}
    for report in reports:
        kind = types.get(report.execution.uri)
        if kind is None:
            continue
        baseline = (baselines or {}).get(report.execution.endpoint_name or "")
        for table, more in execution_rows(report, kind, baseline).items():
            rows[table].extend(more)
    return {spec.name: table_of(spec, rows[spec.name]) for spec in REPORT_TABLES}, undetermined


def table_of(spec: TableSpec, rows: list[dict[str, Any]]) -> pa.Table:
    """Rows -> a table of exactly `spec`'s schema (column order and types)."""
    return pa.Table.from_pylist(rows, schema=spec.schema)
