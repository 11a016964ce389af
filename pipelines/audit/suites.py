"""Expectation suites as data: one YAML file per table, checked on load so a bad suite fails before any data does."""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pyarrow as pa
import yaml

from pipelines.audit.ge_import import great_expectations
from pipelines.errors import FatalError
from pipelines.lake.schemas import TABLES, TableSpec

SUITES_DIR = Path(__file__).parent / "suites"
CRITICAL, WARNING = "critical", "warning"
SEVERITIES = (CRITICAL, WARNING)
PARAMETER = "$PARAMETER"
# Expectation kwargs that name columns: checked against the table's contract on load.
COLUMN_KWARGS = ("column", "column_A", "column_B")
# Keys GE manages itself; a suite setting them would change how results are reported.
RESERVED_KWARGS = ("result_format", "catch_exceptions", "meta", "severity", "description", "notes", "id")
_TOP_KEYS = {"table", "schema", "parameters", "expectations"}
_ENTRY_KEYS = {"type", "kwargs", "severity", "description", "name"}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class SuiteError(FatalError):
    """A suite file is missing or invalid; the message names the file and the offending expectation."""


@dataclass(frozen=True)
class ExpectationSpec:
    """One expectation of a suite, in GE's own shape (type + kwargs) plus its severity."""

    type: str
    kwargs: dict[str, Any]
    severity: str
    description: str | None = None
    name: str | None = None  # optional label that keeps short names unique (two checks on one column)

    @property
    def column(self) -> str | None:
        """The column(s) it looks at, comma-joined; None for table-level expectations."""
        return ",".join(str(c) for c in _domain_columns(self)) or None

    @property
    def short_name(self) -> str:
        """A stable name for reports and pipeline_runs.failed_expectations: type(columns)[name]."""
        base = f"{self.type}({self.column})" if self.column else self.type
        return f"{base}[{self.name}]" if self.name else base

    @property
    def parameters(self) -> tuple[str, ...]:
        """Names of the run-time parameters ({"$PARAMETER": name}) its kwargs use, in order."""
        return tuple(dict.fromkeys(_parameter_names(self.kwargs)))


@dataclass(frozen=True)
class ParameterSpec:
    """A run-time parameter a suite declares: required, or with a default (null means "skip")."""

    name: str
    required: bool = False
    default: Any = None
    description: str | None = None


@dataclass(frozen=True)
class Suite:
    """A table's expectations (schema checks derived from the contract first) and the parameters they use."""

    table: str
    expectations: tuple[ExpectationSpec, ...]
    path: Path
    parameters: tuple[ParameterSpec, ...] = field(default=())

    def parameter(self, name: str) -> ParameterSpec:
        """The declared parameter `name` (KeyError if the suite has none by that name)."""
        return {p.name: p for p in self.parameters}[name]


def load_suites(directory: Path = SUITES_DIR) -> dict[str, Suite]:
    """Every suite in `directory`, by table name."""
    return {path.stem: load_suite(path.stem, directory) for path in sorted(directory.glob("*.yaml"))}


def load_suite(table: str, directory: Path = SUITES_DIR) -> Suite:
    """The suite of `table` from `<directory>/<table>.yaml`, fully checked (types, kwargs, columns, parameters)."""
    path = Path(directory) / f"{table}.yaml"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SuiteError(f"{path}: no expectation suite for table {table!r} (every table needs one)") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SuiteError(f"{path}: cannot read: {error}") from error
    return _suite_from_text(table, path, text)


@functools.lru_cache(maxsize=128)
def _suite_from_text(table: str, path: Path, text: str) -> Suite:
    """Parse and check a suite; cached by its text, because checking builds every GE expectation (~0.1 s a suite)
    and a night audits a dozen partitions - a changed file is a new key, and a Suite is immutable."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise SuiteError(f"{path}: invalid YAML: {error}") from error
    if not isinstance(document, dict):
        raise SuiteError(f"{path}: expected a mapping with 'table' and 'expectations', got {type(document).__name__}")
    unknown = set(document) - _TOP_KEYS
    if unknown:
        raise SuiteError(f"{path}: unknown keys {sorted(unknown)} (allowed: {sorted(_TOP_KEYS)})")
    if document.get("table") != table:
        raise SuiteError(f"{path}: 'table' is {document.get('table')!r}; a suite is named after its table ({table!r})")
    contract = TABLES.get(table)
    parameters = _parameters(path, document.get("parameters") or {})
    expectations = [*_schema_expectations(path, contract, document.get("schema"))]
    entries = document.get("expectations")
    if not isinstance(entries, list) or not entries:
        raise SuiteError(f"{path}: 'expectations' must be a non-empty list")
    for index, entry in enumerate(entries):
        expectations.append(_expectation(path, index, entry, contract, {p.name for p in parameters}))
    suite = Suite(table, tuple(expectations), path, parameters)
    _check_unique_names(suite)
    return suite


def frame_type(arrow_type: pa.DataType) -> str:
    """The type name GE's `expect_column_values_to_be_of_type` sees for a column of `arrow_type`.

    The engine's validation frame (engine.to_validation_frame) turns Arrow columns into these
    pandas dtypes; the schema check compares against them. Maps, lists and structs become JSON text.
    """
    if pa.types.is_dictionary(arrow_type):
        return frame_type(arrow_type.value_type)
    if pa.types.is_integer(arrow_type):
        return str(arrow_type)  # int8..int64, uint8..uint64: nullable pandas ints keep the width
    if pa.types.is_floating(arrow_type):
        return {16: "float16", 32: "float32", 64: "float64"}[arrow_type.bit_width]
    if pa.types.is_boolean(arrow_type):
        return "bool"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "str"
    if pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type):
        return "datetime64"
    if (
        pa.types.is_map(arrow_type)
        or pa.types.is_list(arrow_type)
        or pa.types.is_large_list(arrow_type)
        or pa.types.is_struct(arrow_type)
    ):
        return "str"
    raise TypeError(f"no validation type for Arrow type {arrow_type}")


def ge_expectation(spec: ExpectationSpec, index: int) -> Any:
    """The GE expectation object of `spec`; `index` (its position in the suite) travels in `meta`.

    GE reorders results, so the engine maps each result back to its spec through that index.
    """
    great_expectations()
    from great_expectations.expectations.registry import get_expectation_impl

    cls = get_expectation_impl(spec.type)
    with string_row_conditions():
        return cls(
            **spec.kwargs,
            severity=cast(Any, spec.severity),
            description=spec.description,
            meta={"index": index, "name": spec.short_name},
        )


@contextmanager
def string_row_conditions() -> Iterator[None]:
    """Silence GE's deprecation of string row conditions, which the suites use on purpose.

    Pandas-syntax strings keep the suites readable; GE 1.x (pinned) runs them with
    DataFrame.query. GE 2.0 will want Condition objects instead.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*(condition_parser|row_condition).*", category=DeprecationWarning)
        yield


def _parameters(path: Path, raw: Any) -> tuple[ParameterSpec, ...]:
    if not isinstance(raw, dict):
        raise SuiteError(f"{path}: 'parameters' must be a mapping of name -> {{required: true}} or {{default: ...}}")
    parameters = []
    for name, declaration in raw.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise SuiteError(f"{path}: parameter name {name!r} must be snake_case")
        declaration = declaration or {}
        unknown = set(declaration) - {"required", "default", "description"} if isinstance(declaration, dict) else {"?"}
        if unknown or ("required" in declaration) == ("default" in declaration):
            raise SuiteError(
                f"{path}: parameter {name!r} needs exactly one of 'required: true' or 'default: <value>' (and an optional description)"
            )
        if "required" in declaration and declaration["required"] is not True:
            raise SuiteError(f"{path}: parameter {name!r}: 'required' must be true (use 'default' otherwise)")
        parameters.append(
            ParameterSpec(name, "required" in declaration, declaration.get("default"), declaration.get("description"))
        )
    return tuple(parameters)


def _schema_expectations(path: Path, contract: TableSpec | None, raw: Any) -> Iterator[ExpectationSpec]:
    """`schema: {severity: ...}` -> the contract's column list and each column's type, derived, never copied."""
    if raw is None:
        return
    if not isinstance(raw, dict) or set(raw) - {"severity", "description"} or raw.get("severity") not in SEVERITIES:
        raise SuiteError(f"{path}: 'schema' must be {{severity: critical|warning, description: ...}}")
    if contract is None:
        raise SuiteError(f"{path}: 'schema' derives the checks from the table contract, and there is none for this table")
    severity, why = raw["severity"], raw.get("description")
    yield ExpectationSpec(
        "expect_table_columns_to_match_ordered_list", {"column_list": list(contract.schema.names)}, severity, why
    )
    for column in contract.schema:
        yield ExpectationSpec(
            "expect_column_values_to_be_of_type",
            {"column": column.name, "type_": frame_type(column.type)},
            severity,
            f"{column.name} is {column.type} in the contract",
        )


def _expectation(path: Path, index: int, entry: Any, contract: TableSpec | None, declared: set[str]) -> ExpectationSpec:
    where = f"{path}: expectation #{index}"
    if not isinstance(entry, dict) or "type" not in entry:
        raise SuiteError(f"{where}: expected a mapping with 'type', 'kwargs', 'severity'")
    where = f"{where} ({entry['type']})"
    unknown = set(entry) - _ENTRY_KEYS
    if unknown:
        raise SuiteError(f"{where}: unknown keys {sorted(unknown)} (allowed: {sorted(_ENTRY_KEYS)})")
    if entry.get("severity") not in SEVERITIES:
        raise SuiteError(f"{where}: severity {entry.get('severity')!r} is not one of {', '.join(SEVERITIES)}")
    kwargs = entry.get("kwargs") or {}
    if not isinstance(kwargs, dict):
        raise SuiteError(f"{where}: 'kwargs' must be a mapping")
    if reserved := set(kwargs) & set(RESERVED_KWARGS):
        raise SuiteError(f"{where}: kwargs {sorted(reserved)} are set by the engine, not the suite")
    name = entry.get("name")
    if name is not None and (not isinstance(name, str) or not _NAME.match(name)):
        raise SuiteError(f"{where}: name {name!r} must be snake_case")
    spec = ExpectationSpec(str(entry["type"]), kwargs, entry["severity"], entry.get("description"), name)
    if undeclared := [p for p in spec.parameters if p not in declared]:
        raise SuiteError(f"{where}: parameters {undeclared} are not declared under 'parameters'")
    if contract is not None:
        _check_columns(where, spec, contract)
    _check_with_ge(where, spec, index)
    return spec


def _check_columns(where: str, spec: ExpectationSpec, contract: TableSpec) -> None:
    """Columns and row conditions must fit the contract: a typo fails here, not as a silent pass."""
    names = set(contract.schema.names)
    columns = [*_domain_columns(spec), *spec.kwargs.get("column_list", [])]
    if missing := [c for c in columns if c not in names]:
        raise SuiteError(f"{where}: columns {missing} are not in the contract of {contract.name}")
    condition = spec.kwargs.get("row_condition")
    if condition is None:
        return
    if spec.kwargs.get("condition_parser") != "pandas" or not isinstance(condition, str):
        raise SuiteError(f"{where}: row_condition must be a pandas expression with condition_parser: pandas")
    import pandas as pd

    try:
        pd.DataFrame(columns=list(contract.schema.names)).query(condition)
    except Exception as error:  # noqa: BLE001 - pandas raises many types for a bad expression; all mean "fix the suite"
        raise SuiteError(f"{where}: row_condition {condition!r} does not evaluate: {type(error).__name__}: {error}") from error


def _check_with_ge(where: str, spec: ExpectationSpec, index: int) -> None:
    """Build the GE object once: unknown types and misspelt or missing kwargs fail on load."""
    great_expectations()
    from great_expectations.exceptions import ExpectationNotFoundError

    try:
        ge_expectation(spec, index)
    except ExpectationNotFoundError:
        raise SuiteError(f"{where}: unknown expectation type {spec.type!r} (not a Great Expectations expectation)") from None
    except (TypeError, ValueError) as error:  # pydantic's ValidationError is a ValueError
        message = " ".join(str(error).split())
        raise SuiteError(f"{where}: invalid kwargs: {message}") from error


def _check_unique_names(suite: Suite) -> None:
    seen: set[str] = set()
    for spec in suite.expectations:
        if spec.short_name in seen:
            raise SuiteError(f"{suite.path}: two expectations are both {spec.short_name}; give one a 'name' to tell them apart")
        seen.add(spec.short_name)


def _domain_columns(spec: ExpectationSpec) -> list[Any]:
    """The columns an expectation looks at; for expect_table_* a column_list is the expected value instead."""
    columns = [spec.kwargs[k] for k in COLUMN_KWARGS if k in spec.kwargs]
    if not spec.type.startswith("expect_table_"):
        columns.extend(spec.kwargs.get("column_list") or [])
    return columns


def _parameter_names(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        if set(value) == {PARAMETER}:
            yield str(value[PARAMETER])
            return
        for item in value.values():
            yield from _parameter_names(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _parameter_names(item)
