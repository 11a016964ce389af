"""Run a table's suite on an Arrow table with Great Expectations and report what blocks publishing, and why."""

from __future__ import annotations

import functools
import json
import math
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.audit.ge_import import great_expectations
from pipelines.audit.suites import CRITICAL, WARNING, ExpectationSpec, Suite, ge_expectation, string_row_conditions
from pipelines.errors import FatalError
from pipelines.lake.schemas import VALIDATION_RESULTS
from pipelines.logs import get_logger

log = get_logger(__name__)
EXAMPLES = 5  # rows shown per failed expectation: enough to recognise the pattern, short enough to read
MISSING_EXAMPLES = 20  # set members reported missing (e.g. endpoints without Invocations): list them all, nearly
# SUMMARY gives counts and a sample of unexpected values without materialising every failing row;
# the sample is larger than EXAMPLES because a duplicated key shows up once per copy.
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 20}
# GE kwargs that say *where* and *how* rather than what is expected: left out of `expected`.
_DOMAIN_KWARGS = ("batch_id", "column", "column_list", "column_A", "column_B", "condition_parser")
_NULLABLE_INTS = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(),
    pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(),
    pa.uint64(): pd.UInt64Dtype(),
}


class ParameterError(FatalError):
    """A suite's required run-time parameter was not passed."""


@dataclass(frozen=True)
class ExpectationOutcome:
    """How one expectation went, in plain values (JSON-ready)."""

    type: str
    column: str | None
    severity: str
    success: bool
    skipped: bool
    unexpected_count: int | None
    element_count: int | None
    examples: list[Any]
    description: str | None
    observed: Any
    name: str = ""  # short stable name: type(columns)[label]
    expected: dict[str, Any] = field(default_factory=dict)  # the kwargs it checked, parameters filled in

    @property
    def failed(self) -> bool:
        return not self.success and not self.skipped


@dataclass(frozen=True)
class ValidationReport:
    """One table partition's audit: every expectation's outcome, and whether the partition may be published."""

    table: str
    dt: str | None
    run_id: str
    rows: int
    evaluated_at: datetime  # naive UTC, like every lake timestamp
    outcomes: tuple[ExpectationOutcome, ...]
    suite_path: str
    ge_result: Any = field(default=None, compare=False, repr=False)  # GE's ExpectationSuiteValidationResult, for Data Docs
    witness_rows: int | None = None  # validated on a witness of this many rows (audit/screen.py), not row by row

    @property
    def passed(self) -> bool:
        """Publishable: no critical expectation failed (warnings are published and reported)."""
        return not self.failed_critical

    @property
    def failed_critical(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if o.failed and o.severity == CRITICAL]

    @property
    def failed_warnings(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if o.failed and o.severity == WARNING]

    def failed_names(self) -> list[str]:
        """Short names of every failed expectation, critical first (pipeline_runs.failed_expectations)."""
        return [o.name for o in (*self.failed_critical, *self.failed_warnings)]

    def summary(self) -> str:
        """A few lines a person can act on: what failed, on how many rows, examples, why it matters."""
        where = " ".join(
            part for part in (self.table, f"dt={self.dt}" if self.dt else "", f"run {self.run_id}" if self.run_id else "") if part
        )
        critical, warnings = len(self.failed_critical), len(self.failed_warnings)
        if critical:
            verdict = f"FAILED, not publishable: {critical} critical and {warnings} warning expectation(s) failed"
        else:
            verdict = f"passed with {warnings} warning(s)" if warnings else "passed"
        how = f", on a witness of {self.witness_rows:,} rows" if self.witness_rows is not None else ""
        lines = [f"{where}: {verdict} ({self.rows:,} rows{how}, {len(self.outcomes)} expectations, suite {self.suite_path})"]
        for outcome in (*self.failed_critical, *self.failed_warnings):
            lines.append(f"  {outcome.severity.upper():<8} {outcome.name}: {_detail(outcome)}")
            if outcome.description:
                lines.append(f"           why: {outcome.description}")
        for outcome in self.outcomes:
            if outcome.skipped:
                lines.append(f"  {'SKIPPED':<8} {outcome.name}: {outcome.observed}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable, for the validation.json kept beside quarantined data."""
        return {
            "table": self.table,
            "dt": self.dt,
            "run_id": self.run_id,
            "rows": self.rows,
            "evaluated_at": self.evaluated_at.isoformat(),
            "suite_path": self.suite_path,
            "passed": self.passed,
            "failed_expectations": self.failed_names(),
            "outcomes": [{name: _jsonable(getattr(o, name)) for name in o.__dataclass_fields__} for o in self.outcomes],
        }


# The validation_results table's contract (one name everywhere): rows from validation_rows() fit it;
# `expectation` is the short name used in pipeline_runs.failed_expectations, `dt` is the partition.
VALIDATION_RESULTS_SCHEMA: pa.Schema = VALIDATION_RESULTS.schema


def validation_rows(report: ValidationReport) -> list[dict[str, Any]]:
    """One row per expectation for the validation_results table (its partition dt is report.dt)."""
    return [
        {
            "run_id": report.run_id,
            "table_name": report.table,
            "expectation": o.name,
            "column": o.column,
            "severity": o.severity,
            "success": o.success,
            "skipped": o.skipped,
            "unexpected_count": o.unexpected_count,
            "element_count": o.element_count,
            "observed": None if o.observed is None else json.dumps(_jsonable(o.observed)),
            "examples": json.dumps(_jsonable(o.examples)),
            "evaluated_at": report.evaluated_at,
        }
        for o in report.outcomes
    ]


class Validator:
    """One ephemeral GE context with a pandas data source, built once and reused for every validation.

    Building it costs the GE import (4-5 s, once per process) and a few ms; holding it lets a night
    validate many tables and partitions without rebuilding. Not thread-safe, like GE's context.
    """

    def __init__(self) -> None:
        gx = great_expectations()
        from great_expectations.data_context.types.base import DataContextConfig, InMemoryStoreBackendDefaults, ProgressBarsConfig

        from pipelines.audit import ge_speedups

        ge_speedups.install(gx.__version__)  # about half off a small validation; GE's answers unchanged

        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            progress_bars=ProgressBarsConfig(globally=False),  # a nightly job's log is not a terminal
            analytics_enabled=False,  # no usage reports from a job that must run offline
        )
        context = gx.get_context(mode="ephemeral", project_config=config)
        asset = context.data_sources.add_pandas("lake").add_dataframe_asset("staged")
        self._batches = asset.add_batch_definition_whole_dataframe("whole")
        self._suite_class = gx.ExpectationSuite

    def validate(
        self,
        table: pa.Table,
        suite: Suite,
        parameters: Mapping[str, Any] | None = None,
        *,
        dt: str | None = None,
        run_id: str = "",
    ) -> ValidationReport:
        """Run `suite` on `table`; expectations whose run-time parameters are all None are skipped."""
        return self.validate_frame(to_validation_frame(table), table.column_names, suite, parameters, dt=dt, run_id=run_id)

    def validate_frame(
        self,
        frame: pd.DataFrame,
        columns: list[str],
        suite: Suite,
        parameters: Mapping[str, Any] | None = None,
        *,
        dt: str | None = None,
        run_id: str = "",
    ) -> ValidationReport:
        """`validate` on a frame already made (`columns`: the table's, for naming missing ones)."""
        evaluated_at = datetime.now(UTC).replace(tzinfo=None)
        values = resolve_parameters(suite, parameters)
        skipped = {
            i: s.parameters
            for i, s in enumerate(suite.expectations)
            if s.parameters and all(values[p] is None for p in s.parameters)
        }
        to_run = [i for i in range(len(suite.expectations)) if i not in skipped]
        result = None
        if to_run:
            ge_suite = self._suite_class(
                name=suite.table, expectations=[ge_expectation(suite.expectations[i], i) for i in to_run]
            )
            from pipelines.audit import ge_speedups  # imports GE: loaded with the Validator, not with this module

            batch = self._batches.get_batch(batch_parameters={"dataframe": frame})
            try:
                with string_row_conditions():  # GE rebuilds the expectations while validating
                    result = batch.validate(ge_suite, result_format=RESULT_FORMAT, expectation_parameters=values)
            finally:
                ge_speedups.release()  # rows filtered for this frame: not kept past its validation
        by_index = {r.expectation_config.meta["index"]: r for r in (result.results if result else []) if r.expectation_config}
        outcomes = tuple(
            _skipped_outcome(spec, skipped[i]) if i in skipped else _outcome(spec, by_index[i], columns)
            for i, spec in enumerate(suite.expectations)
        )
        return ValidationReport(suite.table, dt, run_id, len(frame), evaluated_at, outcomes, str(suite.path), result)


def shared_validator() -> Validator:
    """The process's Validator, built on first use (by one thread; another asking meanwhile waits for it).

    A cached factory rather than a module variable: nothing is built at import (GE's import is
    slow), nothing is reassigned later, and tests or callers wanting their own build a Validator.
    """
    with _SHARED:
        return _shared_validator()


_SHARED = threading.Lock()


@functools.cache
def _shared_validator() -> Validator:
    return Validator()


def prepare_shared_validator() -> None:
    """Build the shared Validator on a thread now, so GE's import (~3 s) overlaps the landing's waits on AWS instead
    of opening the audit. A failure here is left for the audit to meet and report."""

    def build() -> None:
        try:
            shared_validator()
        except Exception as error:  # noqa: BLE001 - the audit builds it again and reports what fails
            log.debug("validator_not_prepared", error=f"{type(error).__name__}: {error}")

    threading.Thread(target=build, name="prepare-validator", daemon=True).start()


def validate_table(
    table: pa.Table, suite: Suite, parameters: Mapping[str, Any] | None = None, *, dt: str | None = None, run_id: str = ""
) -> ValidationReport:
    """Validate with the process's shared Validator (see `Validator.validate`)."""
    return shared_validator().validate(table, suite, parameters, dt=dt, run_id=run_id)


def resolve_parameters(suite: Suite, parameters: Mapping[str, Any] | None) -> dict[str, Any]:
    """The suite's declared parameters: passed values, else defaults; extra keys are ignored.

    Extras are allowed so the gate can pass one mapping (window, row band, endpoints) to every
    table's suite; a required parameter that is absent is an error, never a silent skip.
    """
    given = dict(parameters or {})
    if missing := [p.name for p in suite.parameters if p.required and p.name not in given]:
        raise ParameterError(f"suite {suite.path}: required run-time parameters not passed: {', '.join(missing)}")
    return {p.name: _parameter_value(given[p.name] if p.name in given else p.default) for p in suite.parameters}


def to_validation_frame(table: pa.Table) -> pd.DataFrame:
    """The pandas frame GE validates: maps -> canonical JSON (sorted keys), lists/structs -> JSON,
    dictionaries decoded, timestamps -> datetime64 (ns when in range: GE compares those vectorised),
    integers and booleans -> nullable pandas types (so a null does not turn them into floats)."""
    columns = [_frame_column(table.column(i)) for i in range(table.num_columns)]
    frame = pa.Table.from_arrays(columns, names=table.column_names)
    return frame.to_pandas(types_mapper=_pandas_type)


def _frame_column(column: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    kind = column.type
    if pa.types.is_dictionary(kind):
        return _frame_column(column.cast(kind.value_type))
    if pa.types.is_map(kind):
        return canonical_map_strings(column)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_struct(kind):
        return pa.array(
            [None if v is None else json.dumps(_jsonable(v), sort_keys=True) for v in column.to_pylist()], pa.string()
        )
    if pa.types.is_date(kind):
        return column.cast(pa.timestamp("ns"))
    if pa.types.is_timestamp(kind) and kind.unit != "ns":
        try:
            return column.cast(pa.timestamp("ns", kind.tz))
        except pa.ArrowInvalid:  # outside 1677-2262: keep the unit, GE compares row by row instead
            return column
    return column


def _pandas_type(arrow_type: pa.DataType) -> Any:
    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    return _NULLABLE_INTS.get(arrow_type)


def canonical_map_strings(column: pa.ChunkedArray) -> pa.Array:
    """Each map as JSON with sorted keys, so equal maps compare equal whatever their entry order.

    Python's json runs once per distinct map, not per row: rows are first grouped by an
    order-dependent but injective string built with Arrow kernels (a night has ~1M rows and a
    few thousand distinct dimension sets).
    """
    maps = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if len(maps) == 0:
        return pa.array([], pa.string())
    # .keys/.items are the whole (unsliced) children and .offsets index into them: encode entries
    # there, then regroup with the same offsets. Length-prefixed entries ("3:abc:2:xy"; a null
    # value has an empty length) are self-delimiting, so the joined row identifies the map exactly.
    keys, items = maps.keys, maps.items
    key_bytes = pc.cast(pc.binary_length(keys), pa.string())
    item_bytes = pc.cast(pc.binary_length(items), pa.string())
    entries = pc.binary_join_element_wise(key_bytes, keys, item_bytes, items, ":", null_handling="replace", null_replacement="")
    rows = pa.ListArray.from_arrays(maps.offsets, entries, mask=pc.is_null(maps))
    codes = pc.dictionary_encode(pc.binary_join(rows, "\x01")).indices
    filled = pc.fill_null(codes, -1).to_numpy(zero_copy_only=False)
    distinct, first_row = np.unique(filled, return_index=True)
    canonical: list[str | None] = [None] * (int(distinct.max()) + 1 if len(distinct) else 0)
    for code, row in zip(distinct.tolist(), first_row.tolist(), strict=True):
        if code >= 0:
            canonical[code] = _canonical_json(maps[row].as_py())
    return pa.array(canonical, pa.string()).take(codes)


def _canonical_json(value: Any) -> str:
    pairs = value.items() if isinstance(value, dict) else value
    return json.dumps(dict(sorted(pairs, key=lambda kv: kv[0])), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _parameter_value(value: Any) -> Any:
    """Values GE can compare with the frame: aware datetimes -> naive UTC, dates -> midnight, sets -> lists."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value)
    return value


def _outcome(spec: ExpectationSpec, result: Any, columns: list[str]) -> ExpectationOutcome:
    details: dict[str, Any] = dict(result.result or {})
    observed = _jsonable(details.get("observed_value"))
    if missing := [c for c in (spec.column or "").split(",") if c and c not in columns]:
        observed = f"missing column(s): {', '.join(missing)}"
    elif error := _exception_message(result.exception_info):
        observed = f"error: {error}"
    unexpected, examples = details.get("unexpected_count"), details.get("partial_unexpected_list")
    if examples is not None:
        examples = _distinct(examples)[:EXAMPLES]
    elif "partial_missing_list" in details:  # *_to_contain_set: the members that are absent
        examples = _jsonable(details["partial_missing_list"])[:MISSING_EXAMPLES]
        unexpected = details.get("missing_count", len(examples))
    elif mismatched := (details.get("details") or {}).get("mismatched"):  # column lists: which position differs
        examples = _jsonable(mismatched)[:MISSING_EXAMPLES]
    domain = [k for k in _DOMAIN_KWARGS if not (k == "column_list" and spec.type.startswith("expect_table_"))]
    expected = {k: _jsonable(v) for k, v in result.expectation_config.kwargs.items() if k not in domain and v is not None}
    if "row_condition" in expected:  # GE returns it wrapped in a condition object; the suite's text reads better
        expected["row_condition"] = spec.kwargs["row_condition"]
    return ExpectationOutcome(
        spec.type,
        spec.column,
        spec.severity,
        bool(result.success),
        False,
        _int_or_none(unexpected),
        _int_or_none(details.get("element_count")),
        examples or [],
        spec.description,
        observed,
        spec.short_name,
        expected,
    )


def _skipped_outcome(spec: ExpectationSpec, parameters: Iterable[str]) -> ExpectationOutcome:
    reason = f"no value for {', '.join(parameters)}"
    return ExpectationOutcome(
        spec.type, spec.column, spec.severity, True, True, None, None, [], spec.description, reason, spec.short_name
    )


def _exception_message(info: Any) -> str | None:
    """GE reports an exception either flat or per metric; either way, the first message."""
    if not isinstance(info, dict):
        return None
    if "raised_exception" in info:
        return info.get("exception_message") if info.get("raised_exception") else None
    return next((m for m in (_exception_message(v) for v in info.values()) if m), None)


def _detail(outcome: ExpectationOutcome) -> str:
    """`what was found; what was expected (rows where ...)` and one example per line."""
    if isinstance(outcome.observed, str) and outcome.observed.startswith(("error:", "missing column")):
        return outcome.observed
    expected = {k: v for k, v in outcome.expected.items() if k != "row_condition"}
    examples = outcome.examples
    if outcome.type.endswith("_to_contain_set"):  # the examples are the missing members: list them inline
        text = f"{outcome.unexpected_count} missing: {', '.join(str(e) for e in examples)}"
        expected, examples = {}, []
    elif outcome.unexpected_count is not None:
        of = f" of {outcome.element_count:,}" if outcome.element_count is not None else ""
        text = f"{outcome.unexpected_count:,}{of} rows unexpected"
    else:
        text = f"observed {json.dumps(outcome.observed)}"
    if expected:
        text += "; expected " + ", ".join(f"{k}={_short(v)}" for k, v in expected.items())
    if "row_condition" in outcome.expected:
        text += f" (rows where {outcome.expected['row_condition']})"
    return text + "".join(f"\n           e.g. {_example(e)}" for e in examples)


def _short(value: Any) -> str:
    if isinstance(value, list) and len(value) > 10:
        return f"<{len(value)} values>"
    return value if isinstance(value, str) else json.dumps(value)


def _example(value: Any) -> str:
    """A row as `column=value, ...` (strings unquoted), anything else as JSON."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in value.items())
    return json.dumps(value)


def _distinct(values: list[Any]) -> list[Any]:
    seen: dict[str, Any] = {}
    for value in _jsonable(values):
        seen.setdefault(json.dumps(value, sort_keys=True), value)
    return list(seen.values())


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _jsonable(value: Any) -> Any:
    """Plain JSON values: timestamps -> ISO strings, NaN/NA -> None, numpy -> Python, tuples -> lists."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, np.datetime64):
        return _jsonable(pd.Timestamp(value))
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    return str(value)
