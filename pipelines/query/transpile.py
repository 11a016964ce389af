"""Athena (Trino) SQL to DuckDB SQL, so the same query runs on Athena and on the local lake."""

from __future__ import annotations

import functools
import re
from collections.abc import Collection

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, SqlglotError, TokenError
from sqlglot.optimizer.annotate_types import annotate_types

from pipelines.errors import FatalError

# Connection settings the transpiled SQL relies on: Trino divides integers as integers
# (7 / 2 = 3, truncating toward zero, like DuckDB's `//`), and Athena sessions run in UTC.
DUCKDB_SETTINGS = ("SET integer_division = true", "SET TimeZone = 'UTC'")

# Athena's default catalog: `"awsdatacatalog"."db"."t"` means table `t` of Glue database `db`.
ATHENA_CATALOG = "awsdatacatalog"

# Trino returns a DATE for these on a DATE; DuckDB returns a TIMESTAMP.
_DATE_UNITS = {"DAY", "WEEK", "MONTH", "QUARTER", "YEAR"}

# Joda-Time pattern letters -> DuckDB strftime/strptime, by letter and run length.
_JODA_RUNS: dict[str, dict[int, str]] = {
    "y": {1: "%Y", 2: "%y", 3: "%Y", 4: "%Y"},
    "Y": {1: "%Y", 2: "%y", 3: "%Y", 4: "%Y"},
    "x": {1: "%G", 2: "%g", 4: "%G"},
    "w": {1: "%-V", 2: "%V"},
    "e": {1: "%u"},
    "E": {1: "%a", 2: "%a", 3: "%a", 4: "%A"},
    "M": {1: "%-m", 2: "%m", 3: "%b", 4: "%B"},
    "D": {1: "%-j", 3: "%j"},
    "d": {1: "%-d", 2: "%d"},
    "a": {1: "%p"},
    "h": {1: "%-I", 2: "%I"},
    "H": {1: "%-H", 2: "%H"},
    "m": {1: "%-M", 2: "%M"},
    "s": {1: "%-S", 2: "%S"},
    "S": {3: "%g", 6: "%f", 9: "%n"},
    "z": {1: "%Z", 2: "%Z", 3: "%Z"},
    "Z": {1: "%z", 2: "%z"},
}
_JODA_TOKEN = re.compile(r"'(?:[^']|'')*'|([A-Za-z])\1*|[^A-Za-z']+")
# Runs of 4+ letters mean "full text" in Joda (MMMM, EEEE): cap the lookup at 4 for those.
_TEXT_LETTERS = {"M", "E"}


class QueryError(FatalError):
    """A query that cannot run: it does not parse, uses something unsupported, or fails."""


class UnsupportedQueryError(QueryError):
    """Valid Athena SQL that this layer will not run: DDL, writes, or a construct DuckDB lacks."""


def parse_athena(sql: str) -> exp.Expr:
    """Parse one Athena query; anything but a single read-only query is an error."""
    try:
        statements = [s for s in sqlglot.parse(sql, read="athena", error_level=ErrorLevel.RAISE) if s is not None]
    except ParseError as error:
        raise QueryError(f"not valid Athena SQL: {_describe(error)}") from error
    except TokenError as error:
        raise QueryError(f"not valid Athena SQL: {error}") from error
    if len(statements) != 1:
        raise UnsupportedQueryError(f"expected exactly one statement, got {len(statements)}")
    statement = statements[0]
    if not isinstance(statement, (exp.Query, exp.Values)):
        kind = statement.key.upper() if not isinstance(statement, exp.Command) else str(statement.this).upper()
        raise UnsupportedQueryError(
            f"{kind} is not a query: this layer only runs SELECT/WITH/VALUES; "
            "tables, partitions and views are managed by the pipeline"
        )
    return statement


def _describe(error: ParseError) -> str:
    # sqlglot's own message underlines with terminal escapes; rebuild it as plain text.
    parts = [f"{e['description']} (line {e['line']}, column {e['col']})" for e in error.errors]
    return "; ".join(parts) or str(error)


def athena_to_duckdb(sql: str, *, date_columns: Collection[str] = ()) -> str:
    """DuckDB SQL with Athena's results, to run on a connection with DUCKDB_SETTINGS applied.

    `date_columns` names columns known to be DATE (sqlglot cannot type unqualified columns),
    so `date_add`/`date_trunc` on them keep returning a DATE as in Athena. Remembered per
    (text, dates): every query on the laptop's lake re-creates the views it reads, and
    sqlglot takes ~50 ms a view (a dashboard preview asked for the same eight views 40 times).
    """
    return _athena_to_duckdb(sql, frozenset(c.lower() for c in date_columns))


@functools.lru_cache(maxsize=512)
def _athena_to_duckdb(sql: str, dates: frozenset[str]) -> str:
    tree = parse_athena(sql)
    try:
        tree = annotate_types(tree, dialect="athena")
    except SqlglotError:
        pass  # types only refine the date functions; the untyped tree still transpiles
    # Children first, so a rewritten node is built from already-rewritten arguments.
    for node in reversed(list(tree.walk())):
        new = _rewrite(node, dates)
        if new is not node:
            node.replace(new)
    try:
        return tree.sql(dialect="duckdb", unsupported_level=ErrorLevel.RAISE)
    except SqlglotError as error:
        raise UnsupportedQueryError(f"cannot translate to DuckDB: {error}") from error


def _rewrite(node: exp.Expr, dates: Collection[str]) -> exp.Expr:
    """One node's Athena -> DuckDB divergences (sqlglot handles the rest)."""
    if isinstance(node, exp.Table) and node.catalog.lower() == ATHENA_CATALOG:
        node.set("catalog", None)
    elif isinstance(node, exp.Column) and node.args.get("catalog") and node.catalog.lower() == ATHENA_CATALOG:
        node.set("catalog", None)
    elif isinstance(node, exp.ApproxQuantile):
        return _percentile(node)
    elif isinstance(node, (exp.DateAdd, exp.DateTrunc, exp.TimestampTrunc)):
        return _keep_date(node, dates)
    elif isinstance(node, exp.DateDiff):
        return _date_diff(node)
    elif isinstance(node, exp.ArraySize):
        # Trino's cardinality() takes arrays and maps; DuckDB's array_length only lists.
        return exp.Anonymous(this="CARDINALITY", expressions=[node.this])
    elif isinstance(node, exp.Cast) and node.this.is_string and node.to.is_type(exp.DType.TIMESTAMP):
        # timestamp '...' literals: sqlglot gives TIMESTAMP(p), which DuckDB reads as TIMESTAMP_S/_MS.
        node.set("to", exp.DataType.build("TIMESTAMP"))
    elif isinstance(node, exp.ParseDatetime):
        fmt = joda_to_strftime(_literal_format(node.args.get("format"), "parse_datetime"), parsing=True)
        parsed = exp.func("STRPTIME", node.this, exp.Literal.string(fmt))
        return exp.cast(parsed, exp.DataType.build("TIMESTAMPTZ", dialect="duckdb"))
    elif isinstance(node, exp.Anonymous):
        return _anonymous(node)
    return node


def _anonymous(node: exp.Anonymous) -> exp.Expr:
    name = node.name.lower()
    args = node.expressions
    if name == "format_datetime" and len(args) == 2:
        fmt = joda_to_strftime(_literal_format(args[1], "format_datetime"))
        return exp.func("STRFTIME", args[0], exp.Literal.string(fmt))
    if name == "to_iso8601" and len(args) == 1:
        return _to_iso8601(args[0])
    return node


def _literal_format(node: exp.Expr | None, function: str) -> str:
    if not isinstance(node, exp.Literal) or not node.is_string:
        raise UnsupportedQueryError(f"{function}: the format must be a string literal to translate it")
    return str(node.this)


def joda_to_strftime(pattern: str, *, parsing: bool = False) -> str:
    """A Joda-Time pattern (Trino's format_datetime/parse_datetime) as a DuckDB strftime format."""
    out: list[str] = []
    for match in _JODA_TOKEN.finditer(pattern):
        token = match.group(0)
        if token.startswith("'"):
            literal = token[1:-1].replace("''", "'") if len(token) > 2 else "'"
            out.append(literal.replace("%", "%%"))
        elif match.group(1):
            letter, run = token[0], len(token)
            runs = _JODA_RUNS.get(letter, {})
            found = runs.get(min(run, 4) if letter in _TEXT_LETTERS else run)
            if found is None:
                raise UnsupportedQueryError(f"Joda pattern {token!r} in {pattern!r} has no DuckDB equivalent")
            # DuckDB's strptime reads 1 or 2 digits for the padded codes; it has no '%-' codes.
            out.append(found.replace("%-", "%") if parsing else found)
        else:
            out.append(token.replace("%", "%%"))
    return "".join(out)


def _to_iso8601(value: exp.Expr) -> exp.Expr:
    """Trino's to_iso8601: 2024-01-31 for a date, 2024-01-31T13:05:09.000 for a timestamp."""
    formats = {
        "DATE": "%Y-%m-%d",
        "TIMESTAMP WITH TIME ZONE": "%Y-%m-%dT%H:%M:%S.%gZ",  # the session zone is UTC
    }
    default = "%Y-%m-%dT%H:%M:%S.%g"
    if value.type and not value.is_type(exp.DType.UNKNOWN):
        if value.is_type(exp.DType.DATE):
            return exp.func("STRFTIME", value, exp.Literal.string(formats["DATE"]))
        if value.is_type(exp.DType.TIMESTAMPTZ):
            return exp.func("STRFTIME", value, exp.Literal.string(formats["TIMESTAMP WITH TIME ZONE"]))
    # Type known only at run time: branch on it (every branch is a VARCHAR, so this binds).
    cases = exp.Case(this=exp.func("TYPEOF", value.copy()))
    for type_name, fmt in formats.items():
        cases = cases.when(exp.Literal.string(type_name), exp.func("STRFTIME", value.copy(), exp.Literal.string(fmt)))
    return cases.else_(exp.func("STRFTIME", value.copy(), exp.Literal.string(default)))


def _percentile(node: exp.ApproxQuantile) -> exp.Expr:
    """approx_percentile(x, p | array[p...]) as an exact, deterministic nearest-rank quantile."""
    if node.args.get("weight") is not None or node.args.get("accuracy") is not None:
        raise UnsupportedQueryError(
            "weighted approx_percentile(x, w, p) is not supported locally (DuckDB has no weighted "
            "quantile and dropping the weight would give wrong numbers); run it on Athena"
        )
    return exp.func("QUANTILE_DISC", node.this, node.args["quantile"])


def _is_date(node: exp.Expr, dates: Collection[str]) -> bool:
    if isinstance(node, exp.Column):
        return node.name.lower() in dates
    return bool(node.type) and node.is_type(exp.DType.DATE)


def _keep_date(node: exp.Expr, dates: Collection[str]) -> exp.Expr:
    """date_add/date_trunc on a DATE by a date unit stay a DATE, as in Athena."""
    unit = node.args.get("unit")
    unit_name = (unit.name if unit is not None else "DAY").upper()
    if unit_name in _DATE_UNITS and _is_date(node.this, dates):
        return exp.cast(node.copy(), exp.DType.DATE)
    return node


def _date_diff(node: exp.DateDiff) -> exp.Expr:
    """Trino counts whole units elapsed (DuckDB date_sub), not boundaries crossed (date_diff)."""
    unit = node.args.get("unit")
    unit_name = (unit.name if unit is not None else "DAY").lower()
    return exp.Anonymous(this="DATE_SUB", expressions=[exp.Literal.string(unit_name), node.expression, node.this])
