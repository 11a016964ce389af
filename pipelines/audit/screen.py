"""The audit of a large partition: Great Expectations validates its witness, a few real rows per group, not every row.

A night of 10 M CloudWatch points cannot go through pandas row by row in the time the night has (GE took
about 4.5 s per million rows, plus a frame of the whole partition in memory). But every expectation the
suites use on such a table is decided by little: a row-wise check (not null, between, regex, in set) on a
group of rows that agree on every column the check or its row condition reads as a value fails somewhere
iff it fails on the group's rows holding the minimum, the maximum or a null of the columns it bounds; a
uniqueness check fails iff some key occurs twice; a distinct-values check needs each distinct value once.

So DuckDB scans the staged Parquet once, groups it, and keeps per group the real rows at the minimum, the
maximum and a null of each bounded column (the witness); a second scan counts repeated keys while GE
validates the witness with the suite as it is (the row-count check, on a frame of the partition's length). A witness
that passes means the partition passes, and the report's counts are restated for the whole partition. A
witness that fails a row-wise check, or any repeated key, sends the partition to the full row-by-row validation,
so such a failing report is always GE's verdict on every row, with exact counts and examples. A whole-table check
is decided on the witness exactly, pass or fail (each distinct value a check reads is a group of its own, the
row count is checked on the partition's length, the columns are the table's): an endpoint that went silent is
reported from the witness, its outcome the one GE gives on every row, and the partition is not validated twice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.audit import runs
from pipelines.audit.engine import ValidationReport, Validator, shared_validator, to_validation_frame
from pipelines.audit.runs import Plan, as_contract
from pipelines.audit.suites import ExpectationSpec, Suite
from pipelines.logs import get_logger

log = get_logger(__name__)
# Below this many rows the whole partition goes through GE: as fast (the crossover on cloudwatch_metrics is ~30,000
# rows: 0.25 CPU-s either way; at 109,000, a demo night, GE took 0.6 and the witness 0.25), and nothing to plan.
SCREEN_ROWS = 50_000
# DuckDB's working memory for the scans; beyond it the aggregation spills to the temporary directory.
MEMORY_LIMIT = "1GB"

ROW_WISE = {
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_between",
    "expect_column_values_to_match_regex",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_be_of_type",
}
UNIQUE = {"expect_compound_columns_to_be_unique", "expect_column_values_to_be_unique"}
ROW_COUNT = {"expect_table_row_count_to_be_between"}
WHOLE_TABLE = {"expect_table_columns_to_match_ordered_list", "expect_column_distinct_values_to_contain_set"}
# Decided on the witness exactly, pass or fail: a failure of these alone is reported from the witness as it is.
EXACT_ON_WITNESS = WHOLE_TABLE | ROW_COUNT
# On a bounded column these are decided by its minimum, maximum and null: it need not be grouped by value.
BOUNDED = {"expect_column_values_to_not_be_null", "expect_column_values_to_be_between", "expect_column_values_to_be_of_type"}
# A column only these read is grouped by whether it is null.
NULL_ONLY = {"expect_column_values_to_not_be_null", "expect_column_values_to_be_of_type"}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def plan_for(suite: Suite, schema: pa.Schema) -> Plan | None:
    """The grouping that keeps every expectation of `suite` decidable on the witness; None when one is not."""
    specs = suite.expectations
    if any(s.type not in ROW_WISE | UNIQUE | ROW_COUNT | WHOLE_TABLE or "mostly" in s.kwargs for s in specs):
        return None
    names = set(schema.names)
    read_by: dict[str, set[str]] = {name: set() for name in names}  # column -> the expectation types reading its values
    valued: set[str] = set()  # read as values by a row condition: grouped by value whatever else reads them
    for spec in specs:
        if spec.type.startswith("expect_table_"):
            continue
        for column in _columns(spec):
            read_by[column].add(spec.type)
        valued |= _condition_columns(spec, names)
    bounded = [
        f.name
        for f in schema
        if f.name not in valued
        and read_by[f.name] <= BOUNDED | UNIQUE
        and (pa.types.is_floating(f.type) or pa.types.is_timestamp(f.type) or pa.types.is_date(f.type))
    ]
    if not bounded:
        return None  # nothing to summarise: the witness would be the table
    null_keys = [
        n for n in schema.names if n not in bounded and n not in valued and read_by[n] and read_by[n] <= NULL_ONLY | UNIQUE
    ]
    keys = [n for n in schema.names if n not in bounded and n not in null_keys and (read_by[n] or n in valued)]
    unique = tuple(tuple(s.kwargs.get("column_list") or [s.kwargs["column"]]) for s in specs if s.type in UNIQUE)
    return Plan(tuple(keys), tuple(null_keys), tuple(bounded), unique)


@dataclass(frozen=True)
class Witness:
    """The witness rows (contract schema), each group's size by its value keys, the rows in all, repeated keys."""

    rows: pa.Table
    groups: pa.Table
    total: int
    repeated: dict[tuple[str, ...], int]


def parquet_rows(paths: Sequence[Path]) -> int:
    """Rows in local Parquet files, from their footers."""
    return sum(pq.read_metadata(path).num_rows for path in paths)


def find_witness(paths: Sequence[Path], schema: pa.Schema, plan: Plan, scratch: Path) -> Witness:
    """Scan the files with DuckDB: the witness rows and group sizes (one scan), the repeated keys (one scan per list)."""
    found = _witness(paths, schema, plan, scratch)
    return replace(found, repeated=repeated_keys(paths, schema, plan, scratch))


def repeated_keys(paths: Sequence[Path], schema: pa.Schema, plan: Plan, scratch: Path) -> dict[tuple[str, ...], int]:
    """Rows repeating an earlier row's key, for each unique key list of the plan (one scan per list)."""
    if not plan.unique:
        return {}
    con = duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "temp_directory": str(scratch)})
    try:
        con.execute(f"CREATE TEMP VIEW staged AS SELECT * FROM read_parquet([{_files(paths)}])")
        return {columns: _repeated(con, columns, schema, paths) for columns in plan.unique}
    finally:
        con.close()


def _files(paths: Sequence[Path]) -> str:
    return ", ".join(_literal(str(path)) for path in paths)


def _witness(paths: Sequence[Path], schema: pa.Schema, plan: Plan, scratch: Path) -> Witness:
    """The witness rows and group sizes (`repeated` left empty)."""
    con = duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "temp_directory": str(scratch)})
    try:
        con.execute(f"CREATE TEMP VIEW staged AS SELECT * FROM read_parquet([{_files(paths)}])")
        carried = [n for n in schema.names if n not in plan.keys]
        row = "struct_pack(" + ", ".join(f"{_q(n)} := {_q(n)}" for n in carried) + ")"
        picks = []
        for name in plan.bounded:
            # GE takes a NaN for a missing value: it is picked as a null is, never as the maximum (DuckDB's order)
            nan = f" OR isnan({_q(name)})" if pa.types.is_floating(schema.field(name).type) else ""
            number = f" FILTER (WHERE NOT isnan({_q(name)}))" if nan else ""
            picks += [f"arg_min({row}, {_q(name)}){number}", f"arg_max({row}, {_q(name)}){number}"]
            picks.append(f"any_value({row}) FILTER (WHERE {_q(name)} IS NULL{nan})")
        group_by = [_q(k) for k in plan.keys] + [f"{_q(n)} IS NULL AS {_q('__null_' + n)}" for n in plan.null_keys]
        con.execute(
            f"CREATE TEMP TABLE groups AS SELECT {', '.join(group_by)}, count(*) AS __rows, "
            f"list_distinct(list_filter([{', '.join(picks)}], lambda r: r IS NOT NULL)) AS __witness "
            f"FROM staged GROUP BY ALL"
        )
        keys = ", ".join(_q(k) for k in plan.keys)
        rows = con.sql(
            f"SELECT {keys}{', ' if keys else ''}unnest(__witness, recursive := true) FROM "
            f"(SELECT {keys}{', ' if keys else ''}unnest(__witness) AS __witness FROM groups)"
        ).to_arrow_table()
        sizes = con.sql(f"SELECT {keys}{', ' if keys else ''}__rows FROM groups").to_arrow_table()
    finally:
        con.close()
    return Witness(as_contract(rows, schema), sizes, parquet_rows(paths), {})


def screen(
    validator: Validator,
    paths: Sequence[Path],
    schema: pa.Schema,
    suite: Suite,
    parameters: Mapping[str, Any] | None,
    scratch: Path,
    *,
    dt: str | None,
    run_id: str,
) -> ValidationReport | None:
    """The partition's report when its witness passes; None when the partition must be validated row by row."""
    plan = plan_for(suite, schema)
    if plan is None:
        return None
    scanned = runs.scan(paths, schema, plan)  # the writer's order: one read, no hash table
    if scanned is None:
        witness, unproven = _witness(paths, schema, plan, scratch), plan.unique
    else:
        witness = Witness(scanned.rows, scanned.groups, scanned.total, {})
        unproven = tuple(columns for columns in plan.unique if not scanned.unique[columns])
    # A key the order did not prove unique is counted by DuckDB (off the GIL) while GE validates the witness
    # (Python): the audit's wall is the longer of the two, not their sum. A failure in either ends the shortcut.
    with ThreadPoolExecutor(1, thread_name_prefix="audit-repeats") as pool:
        repeats = pool.submit(repeated_keys, paths, schema, replace(plan, unique=unproven), scratch)
        report = _on_witness(validator, witness, schema, suite, parameters, dt=dt, run_id=run_id)
        if any(repeats.result().values()):
            return None
    return report


def _on_witness(
    validator: Validator,
    witness: Witness,
    schema: pa.Schema,
    suite: Suite,
    parameters: Mapping[str, Any] | None,
    *,
    dt: str | None,
    run_id: str,
) -> ValidationReport | None:
    """GE's report on the witness restated for the whole partition; None when the witness fails a check that only
    every row can count (row-wise, unique)."""
    counted = [i for i, s in enumerate(suite.expectations) if s.type in ROW_COUNT]
    rest = replace(suite, expectations=tuple(s for i, s in enumerate(suite.expectations) if i not in counted))
    on_rows = validator.validate(witness.rows, rest, parameters, dt=dt, run_id=run_id)
    outcomes = list(on_rows.outcomes)
    if counted:
        length = pd.DataFrame(index=pd.RangeIndex(witness.total))
        count_suite = replace(suite, expectations=tuple(suite.expectations[i] for i in counted))
        on_count = validator.validate_frame(length, schema.names, count_suite, parameters, dt=dt, run_id=run_id)
        for i, outcome in zip(counted, on_count.outcomes, strict=True):
            outcomes.insert(i, outcome)
    if any(o.failed and s.type not in EXACT_ON_WITNESS for o, s in zip(outcomes, suite.expectations, strict=True)):
        return None
    sizes = to_validation_frame(witness.groups)  # row conditions read the group sizes as GE reads the rows
    restated = tuple(
        o if o.failed else _restated(o, s, witness.total, sizes) for o, s in zip(outcomes, suite.expectations, strict=True)
    )
    return replace(on_rows, rows=witness.total, outcomes=restated, witness_rows=witness.rows.num_rows)


def _restated(outcome: Any, spec: ExpectationSpec, total: int, sizes: pd.DataFrame) -> Any:
    """A passing outcome on the witness, counted over the whole partition: no unexpected row, every row counted."""
    if outcome.skipped or spec.type in ROW_COUNT or spec.type.startswith("expect_table_"):
        return outcome
    condition = spec.kwargs.get("row_condition")
    elements = total if condition is None else int(sizes.query(condition)["__rows"].sum())
    return replace(
        outcome,
        unexpected_count=None if outcome.unexpected_count is None else 0,
        element_count=None if outcome.element_count is None else elements,
    )


def _repeated(con: Any, columns: tuple[str, ...], schema: pa.Schema, paths: Sequence[Path]) -> int:
    """Rows whose key of `columns` an earlier row has already. Maps are hashed by their entries, whatever their order; a hash
    collision can only report a repeat that is not one, which costs a full validation, never a missed duplicate.

    Hashing the key is most of the scan, so a column that holds one value in each file (its footer says so: an
    account x region's file has one account, region, namespace) is left out of it: files whose constants differ
    cannot share a key, and files whose constants agree are counted together. The count is the same."""
    constants = {path: _constant_columns(path, columns, schema) for path in paths}
    common = [c for c in columns if paths and all(c in found for found in constants.values())]
    if not common:
        return _count_repeated(con, "staged", columns, schema)
    together: dict[tuple[Any, ...], list[Path]] = {}
    for path in paths:
        together.setdefault(tuple(constants[path][c] for c in common), []).append(path)
    varying = tuple(c for c in columns if c not in common)
    total = 0
    for files in together.values():
        total += _count_repeated(con, f"read_parquet([{_files(files)}])", varying, schema)
    return total


def _count_repeated(con: Any, source: str, columns: tuple[str, ...], schema: pa.Schema) -> int:
    parts = []
    for name in columns:
        if pa.types.is_map(schema.field(name).type):
            parts.append(f"list_aggregate(list_transform(map_entries({_q(name)}), lambda e: hash(e.key, e.value)), 'bit_xor')")
        else:
            parts.append(_q(name))
    key = f"hash({', '.join(parts)})" if parts else "0"  # one 64-bit key per row: a small hash table, no spilling at 10 M rows
    found = con.execute(f"SELECT count(*) - count(DISTINCT {key}) FROM {source}").fetchone()
    return int(found[0]) if found else 0


def _constant_columns(path: Path, columns: Sequence[str], schema: pa.Schema) -> dict[str, Any]:
    """Columns of `columns` with one value and no null in every row of the file: in each row group the footer's
    minimum equals its maximum (bounds, so equal bounds mean one value even where a writer truncates them), and it
    is the same value in all. Floats are never taken (the bounds leave NaN out), nor nested columns (no bounds)."""
    meta = pq.read_metadata(path)
    leaves = {meta.schema.column(i).path: i for i in range(meta.num_columns)}
    found: dict[str, Any] = {}
    for name in columns:
        kind = schema.field(name).type
        if name not in leaves or pa.types.is_floating(kind) or pa.types.is_nested(kind) or meta.num_row_groups == 0:
            continue
        values: list[Any] = []
        for group in range(meta.num_row_groups):
            stats = meta.row_group(group).column(leaves[name]).statistics
            if stats is None or not stats.has_min_max or not stats.has_null_count or stats.null_count:
                break
            low, high = _bound(stats, "min"), _bound(stats, "max")  # values, not bytes: files may differ in width
            if low is None or low != high or (values and low != values[0]):
                break
            values.append(low)
        else:
            found[name] = values[0]
    return found


def _bound(stats: Any, which: str) -> Any:
    try:
        return getattr(stats, which)
    except (ValueError, TypeError, pa.ArrowException):  # a type pyarrow cannot turn into a value: not used
        return None


def _columns(spec: ExpectationSpec) -> list[str]:
    return [str(c) for c in (spec.column or "").split(",") if c]


def _condition_columns(spec: ExpectationSpec, names: set[str]) -> set[str]:
    """Columns a row condition may read: every identifier in it that names a column (a superset is safe)."""
    condition = spec.kwargs.get("row_condition")
    return set(_IDENTIFIER.findall(condition)) & names if isinstance(condition, str) else set()


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def validate_files(
    paths: Sequence[Path],
    schema: pa.Schema,
    suite: Suite,
    parameters: Mapping[str, Any] | None,
    scratch: Path,
    *,
    dt: str | None,
    run_id: str,
    screen_rows: int = SCREEN_ROWS,
) -> ValidationReport:
    """A staged partition's report from its local Parquet files: on the witness when it is large and passes, else
    every row through GE (the verdict and counts of a failing partition always come from there)."""
    validator = shared_validator()
    if parquet_rows(paths) >= screen_rows:
        try:
            report = screen(validator, paths, schema, suite, parameters, scratch, dt=dt, run_id=run_id)
        except duckdb.Error as error:  # the witness is a shortcut: without it, the rows are validated one by one
            log.warning("audit_witness_failed", table=suite.table, dt=dt, run_id=run_id, error=f"{type(error).__name__}: {error}")
            report = None
        if report is not None:
            return report
    return validator.validate(read_local(paths, schema), suite, parameters, dt=dt, run_id=run_id)


def read_local(paths: Sequence[Path], schema: pa.Schema) -> pa.Table:
    """Local Parquet files as one table of the contract schema."""
    tables = [pq.read_table(path, schema=schema) for path in paths]
    return pa.concat_tables(tables) if tables else schema.empty_table()
