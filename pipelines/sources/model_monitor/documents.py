"""Read one Model Monitor report file leniently: several container versions are in the wild, and one file never costs a night."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from pipelines.errors import FatalError
from pipelines.sources.model_monitor.reports import ANALYSIS, CONSTRAINTS, STATISTICS, VIOLATIONS

DATA_QUALITY, MODEL_QUALITY, MODEL_BIAS, MODEL_EXPLAINABILITY = "DataQuality", "ModelQuality", "ModelBias", "ModelExplainability"
MONITORING_TYPES = (DATA_QUALITY, MODEL_QUALITY, MODEL_BIAS, MODEL_EXPLAINABILITY)
DATA_QUALITY_CHECKS = frozenset(
    {
        "data_type_check",
        "completeness_check",
        "baseline_drift_check",
        "missing_column_check",
        "extra_column_check",
        "categorical_values_check",
    }
)
BIAS_CHECK, ATTRIBUTION_CHECK = "bias_drift_check", "feature_attribution_drift_check"
UNKNOWN_CHECK = "unknown"  # a violation without constraint_check_type (bring-your-own containers)
# Row lists a file contributes to, by table.
FEATURE_STATISTICS, QUALITY_METRICS, VIOLATION_ROWS = "monitor_feature_statistics", "model_quality_metrics", "monitor_violations"
BIAS_ROWS, ATTRIBUTION_ROWS = "bias_metrics", "feature_attributions"

_INT64 = float(2**63)
Thresholds = dict[tuple[str, str], tuple[float | None, str | None]]  # (problem type, metric) -> (threshold, operator)


class UnreadableReport(FatalError):
    """A report file that cannot be read at all; `reason` goes to source_rejections."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ParsedReport:
    """What one file says: the monitoring type its shape implies, its rows (without execution keys)."""

    kind: str
    evidence: str | None  # monitoring type implied by the file's shape; None when it cannot tell
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    item_count: int | None = None
    thresholds: Thresholds = field(default_factory=dict)
    skipped: int = 0  # entries inside the file that could not be read (the rest was kept)


def decode_report(body: bytes) -> Any:
    """JSON of a report body; UnreadableReport (with the reason) when it is empty, not UTF-8 or not JSON.

    Python's json reads the `NaN` and `Infinity` tokens Java and Python writers emit.
    """
    if not body.strip():
        raise UnreadableReport("empty object")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnreadableReport(f"not UTF-8 text (binary or another encoding): {error}") from error
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UnreadableReport(f"not valid JSON (truncated?): {error}") from error
    except RecursionError:
        raise UnreadableReport("not readable JSON: nested too deeply") from None


def as_float(value: Any) -> float | None:
    """A number from a JSON value: ints, floats, "NaN"/"Infinity"/"8.08E-4" strings; NaN and junk -> None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return None if math.isnan(number) else number


def as_count(value: Any) -> int | None:
    """A count written as 24, 24.0 or "24"; None when it is not a finite number that fits a bigint."""
    number = as_float(value)
    if number is None or not -_INT64 <= number < _INT64:  # also rejects infinities
        return None
    return int(round(number))


def as_text(value: Any) -> str | None:
    return None if value is None else str(value)


def snake_case(name: str) -> str:
    """truePositiveRate -> true_positive_rate, weightedF2 -> weighted_f2; snake_case names are unchanged."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name.strip())
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return re.sub(r"[\s\-]+", "_", name).lower()


def read_report(kind: str, body: bytes) -> ParsedReport:
    """Decode and parse one report body; UnreadableReport (with its reason) when it cannot be read at all."""
    return parse_report(kind, decode_report(body))


def parse_report(kind: str, document: Any) -> ParsedReport:
    """One decoded file of `kind` (statistics, constraints, violations, analysis) -> its rows and evidence."""
    parser = {STATISTICS: _statistics, CONSTRAINTS: _constraints, VIOLATIONS: _violations, ANALYSIS: _analysis}[kind]
    if not isinstance(document, (dict, list)):
        raise UnreadableReport(f"unexpected shape: top level is {type(document).__name__}, not an object")
    return parser(document)


def _statistics(doc: Any) -> ParsedReport:
    if not isinstance(doc, dict):
        raise UnreadableReport("unexpected shape: statistics is a list, not an object")
    dataset = doc.get("dataset")
    item_count = as_count(dataset.get("item_count")) if isinstance(dataset, dict) else None
    if "features" in doc:
        rows, skipped = _feature_rows(doc["features"], item_count)
        return ParsedReport(STATISTICS, DATA_QUALITY, {FEATURE_STATISTICS: rows}, item_count, skipped=skipped)
    sections = _problem_sections(doc, "_metrics")
    if sections:
        rows, skipped = _metric_rows(sections)
        return ParsedReport(STATISTICS, MODEL_QUALITY, {QUALITY_METRICS: rows}, item_count, skipped=skipped)
    raise UnreadableReport("unexpected shape: statistics has neither 'features' nor '<problem>_metrics'")


def _feature_rows(features: Any, item_count: int | None) -> tuple[list[dict[str, Any]], int]:
    if isinstance(features, dict):  # some writers key features by name
        features = [{"name": name, **entry} for name, entry in features.items() if isinstance(entry, dict)]
    if not isinstance(features, list):
        return [], 1
    rows, skipped = [], 0
    for feature in features:
        if not isinstance(feature, dict) or feature.get("name") in (None, ""):
            skipped += 1
            continue
        numeric = _mapping(feature.get("numerical_statistics"))
        strings = _mapping(feature.get("string_statistics"))
        common = _mapping((numeric or strings).get("common"))
        rows.append(
            {
                "feature_name": str(feature["name"]),
                "inferred_type": as_text(feature.get("inferred_type")),
                "item_count": item_count,
                "num_present": as_count(common.get("num_present")),
                "num_missing": as_count(common.get("num_missing")),
                "mean": as_float(numeric.get("mean")),
                "sum": as_float(numeric.get("sum")),
                "std_dev": as_float(numeric.get("std_dev")),
                "min": as_float(numeric.get("min")),
                "max": as_float(numeric.get("max")),
                "distinct_count": as_float(strings.get("distinct_count")),
            }
        )
    return rows, skipped


def _metric_rows(sections: dict[str, dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Scalar metrics only: confusion matrices and curves have no single `value`."""
    rows, skipped = [], 0
    for problem, metrics in sections.items():
        for metric, entry in metrics.items():
            if isinstance(entry, dict) and "value" in entry:
                value, deviation = entry["value"], entry.get("standard_deviation")
            elif isinstance(entry, (int, float, str)) and not isinstance(entry, bool):
                value, deviation = entry, None  # a bare number from a bring-your-own container
            else:
                continue
            if isinstance(value, (list, dict)):
                skipped += 1
                continue
            rows.append(
                {
                    "problem_type": problem,
                    "metric_name": snake_case(str(metric)),
                    "value": as_float(value),
                    "standard_deviation": as_float(deviation),
                }
            )
    return rows, skipped


def _constraints(doc: Any) -> ParsedReport:
    if not isinstance(doc, dict):
        raise UnreadableReport("unexpected shape: constraints is a list, not an object")
    if "features" in doc:
        return ParsedReport(CONSTRAINTS, DATA_QUALITY)
    sections = _problem_sections(doc, "_constraints")
    if not sections:
        raise UnreadableReport("unexpected shape: constraints has neither 'features' nor '<problem>_constraints'")
    return ParsedReport(CONSTRAINTS, MODEL_QUALITY, thresholds=constraint_thresholds(sections))


def constraint_thresholds(sections: dict[str, dict[str, Any]]) -> Thresholds:
    """(problem type, snake_case metric) -> (threshold, comparison operator) of model-quality constraints."""
    thresholds: Thresholds = {}
    for problem, metrics in sections.items():
        for metric, entry in metrics.items():
            if isinstance(entry, dict):
                thresholds[(problem, snake_case(str(metric)))] = (
                    as_float(entry.get("threshold")),
                    as_text(entry.get("comparison_operator")),
                )
    return thresholds


def _problem_sections(doc: dict[str, Any], suffix: str) -> dict[str, dict[str, Any]]:
    """{"regression_metrics": {...}} -> {"regression": {...}} (binary_classification, multiclass_classification, ...)."""
    return {key.removesuffix(suffix): value for key, value in doc.items() if key.endswith(suffix) and isinstance(value, dict)}


def _violations(doc: Any) -> ParsedReport:
    entries = doc.get("violations") if isinstance(doc, dict) else doc  # a bare list is accepted too
    if not isinstance(entries, list):
        raise UnreadableReport("unexpected shape: no 'violations' list")
    rows, skipped = [], 0
    for entry in entries:
        if not isinstance(entry, dict):
            skipped += 1
            continue
        description = as_text(entry.get("description"))
        observed, threshold = parse_description(description)
        check = as_text(entry.get("constraint_check_type")) or UNKNOWN_CHECK
        rows.append(
            {
                "feature_name": as_text(entry.get("feature_name")),
                "metric_name": as_text(entry.get("metric_name")),
                # Attribution violations are one per label: the label tells two of them apart.
                "label": as_text(entry.get("label")),
                "facet": as_text(entry.get("facet")),
                "facet_value": as_text(entry.get("facet_value")),
                "constraint_check_type": check,
                "description": description,
                "observed_value": observed,
                "threshold_value": threshold,
                "details": violation_details(entry),
            }
        )
    return ParsedReport(VIOLATIONS, _violation_evidence(rows), {VIOLATION_ROWS: rows}, skipped=skipped)


VIOLATION_KEYS = frozenset(
    {"feature_name", "metric_name", "label", "facet", "facet_value", "constraint_check_type", "description"}
)


def violation_details(entry: dict[str, Any]) -> str | None:
    """The entry's other keys as canonical JSON (sorted, compact), or None when it has none."""
    extra = {str(k): v for k, v in entry.items() if k not in VIOLATION_KEYS}
    return json.dumps(extra, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False) if extra else None


def _violation_evidence(rows: list[dict[str, Any]]) -> str | None:
    checks = {row["constraint_check_type"] for row in rows}
    if checks & DATA_QUALITY_CHECKS:
        return DATA_QUALITY
    if BIAS_CHECK in checks:
        return MODEL_BIAS
    if ATTRIBUTION_CHECK in checks:
        return MODEL_EXPLAINABILITY
    # Model quality writes the comparison operator as the check type (LessThanThreshold).
    if any(row["metric_name"] and row["constraint_check_type"].endswith("Threshold") for row in rows):
        return MODEL_QUALITY
    return None


_NUMBER = r"[-+]?(?:Infinity|NaN|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
# First match wins. "Baseline drift distance: 0.1735 exceeds threshold: 0.1", "Feature attribution
# drift 0.76 exceeds threshold 0.9", "Metric auc with 0.61 +/- 8.08E-4 was LessThanThreshold '0.7'",
# "Value: 0.0 does not meet the constraint requirement! ", "Value Infinity does not meet ...",
# "... Expected match: 100.0%. Observed: Only 99.64% of data is Integral."
_OBSERVED = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        rf"distance:?\s*(?P<n>{_NUMBER})(?P<pct>%?)",
        rf"drift:?\s+(?P<n>{_NUMBER})(?P<pct>%?)\s+exceeds",
        rf"\bwith\s+(?P<n>{_NUMBER})(?P<pct>%?)",
        rf"Observed:\s*(?:Only\s+)?(?P<n>{_NUMBER})\s*(?P<pct>%?)",
        rf"\bValue:?\s*(?P<n>{_NUMBER})(?P<pct>%?)",
    )
)
_THRESHOLD = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        rf"threshold:?\s*'?(?P<n>{_NUMBER})(?P<pct>%?)'?",
        rf"Expected match:\s*(?P<n>{_NUMBER})\s*(?P<pct>%?)",
    )
)


def parse_description(description: str | None) -> tuple[float | None, float | None]:
    """(observed value, threshold) from a violation's free text; None where the text has none.

    Percentages ("Only 99.64% of data") become fractions (0.9964), as older containers wrote them.
    """
    if not description:
        return None, None
    return _first_number(_OBSERVED, description), _first_number(_THRESHOLD, description)


def _first_number(patterns: tuple[re.Pattern[str], ...], text: str) -> float | None:
    for pattern in patterns:
        match = pattern.search(text)
        if match:
            number = as_float(match["n"])
            return number / 100.0 if number is not None and match["pct"] else number
    return None


def _analysis(doc: Any) -> ParsedReport:
    if not isinstance(doc, dict):
        raise UnreadableReport("unexpected shape: analysis is a list, not an object")
    bias, skipped = _bias_rows(doc)
    attributions = _attribution_rows(doc.get("explanations"))
    if "explanations" in doc:
        rows = {ATTRIBUTION_ROWS: attributions, **({BIAS_ROWS: bias} if bias else {})}
        return ParsedReport(ANALYSIS, MODEL_EXPLAINABILITY, rows, skipped=skipped)
    if any(f"{stage}_bias_metrics" in doc for stage in ("pre_training", "post_training")):
        return ParsedReport(ANALYSIS, MODEL_BIAS, {BIAS_ROWS: bias}, skipped=skipped)
    raise UnreadableReport("unexpected shape: analysis has neither bias metrics nor explanations")


def _bias_rows(doc: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    rows, skipped = [], 0
    for stage in ("pre_training", "post_training"):
        section = _mapping(doc.get(f"{stage}_bias_metrics"))
        label = as_text(section.get("label"))
        for facet, groups in _mapping(section.get("facets")).items():
            for group in groups if isinstance(groups, list) else [groups]:
                if not isinstance(group, dict):
                    skipped += 1
                    continue
                for metric in group.get("metrics") or ():
                    if not isinstance(metric, dict) or not metric.get("name"):
                        skipped += 1
                        continue
                    rows.append(
                        {
                            "stage": stage,
                            "label": label,
                            "facet": str(facet),
                            "facet_value": as_text(group.get("value_or_threshold")),
                            "metric_name": str(metric["name"]),
                            "value": as_float(metric.get("value")),
                            "error": as_text(metric.get("error")),
                        }
                    )
    return rows, skipped


def _attribution_rows(explanations: Any) -> list[dict[str, Any]]:
    """Global SHAP values per label, from every method that has them (Clarify writes kernel_shap)."""
    rows = []
    for per_label in _mapping(explanations).values():
        for label, entry in _mapping(per_label).items():
            entry = _mapping(entry)
            expected = as_float(entry.get("expected_value"))
            for feature, value in _mapping(entry.get("global_shap_values")).items():
                rows.append(
                    {"label": str(label), "feature_name": str(feature), "shap_value": as_float(value), "expected_value": expected}
                )
    return rows


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
