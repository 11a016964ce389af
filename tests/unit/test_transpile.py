"""Athena SQL -> DuckDB: each construct checked by the value DuckDB computes, as Athena would give it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.errors import FatalError
from pipelines.query.transpile import (
    DUCKDB_SETTINGS,
    QueryError,
    UnsupportedQueryError,
    athena_to_duckdb,
    joda_to_strftime,
)

UTC = UTC


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    """One row shaped like the lake: a date, a timestamp, a map and an array."""
    c = duckdb.connect()
    for statement in DUCKDB_SETTINGS:
        c.execute(statement)
    c.execute(
        "CREATE TABLE t AS SELECT DATE '2024-01-31' AS d, TIMESTAMP '2024-01-31 13:05:09.123456' AS ts, "
        "7 AS a, 2 AS b, '2024-01-31' AS dt, ['x', 'y'] AS tags, "
        "MAP(['EndpointName', 'VariantName'], ['ep-a', 'AllTraffic']) AS dimensions"
    )
    c.execute("CREATE SCHEMA db")
    c.execute("CREATE VIEW db.t AS SELECT * FROM main.t")
    yield c
    c.close()


def value(con: duckdb.DuckDBPyConnection, athena_sql: str) -> Any:
    rows = con.sql(athena_to_duckdb(athena_sql, date_columns={"d"})).fetchall()
    assert len(rows) == 1
    return rows[0][0] if len(rows[0]) == 1 else rows[0]


CASES = [
    # integer division truncates toward zero, as in Trino; decimals divide exactly
    ("SELECT 7 / 2", 3),
    ("SELECT -7 / 2", -3),
    ("SELECT a / b FROM t", 3),
    ("SELECT 7.0 / 2", 3.5),
    ("SELECT CAST(a AS double) / b FROM t", 3.5),
    # date_add keeps a DATE on a DATE (literal, cast, date() or a known DATE column)
    ("SELECT date_add('day', 1, DATE '2024-01-31')", date(2024, 2, 1)),
    ("SELECT date_add('month', 1, DATE '2024-01-31')", date(2024, 2, 29)),
    ("SELECT date_add('week', -1, d) FROM t", date(2024, 1, 24)),
    ("SELECT date_add('day', 1, CAST(dt AS date)) FROM t", date(2024, 2, 1)),
    ("SELECT date_add('day', 1, date(ts)) FROM t", date(2024, 2, 1)),
    ("SELECT date_add('hour', 2, ts) FROM t", datetime(2024, 1, 31, 15, 5, 9, 123456)),
    # Joda-format functions
    ("SELECT format_datetime(ts, 'yyyy-MM-dd''T''HH:mm:ss.SSS') FROM t", "2024-01-31T13:05:09.123"),
    ("SELECT format_datetime(ts, 'EEE, d MMM yyyy h:mm a') FROM t", "Wed, 31 Jan 2024 1:05 PM"),
    ("SELECT format_datetime(ts, 'EEEE MMMM dd, yy') FROM t", "Wednesday January 31, 24"),
    ("SELECT parse_datetime('2024-01-31 13:05', 'yyyy-MM-dd HH:mm')", datetime(2024, 1, 31, 13, 5, tzinfo=UTC)),
    ("SELECT parse_datetime('31/1/2024', 'dd/M/yyyy')", datetime(2024, 1, 31, tzinfo=UTC)),
    # to_iso8601 by input type (Athena timestamps have milliseconds; zoned ones end in Z in UTC)
    ("SELECT to_iso8601(ts) FROM t", "2024-01-31T13:05:09.123"),
    ("SELECT to_iso8601(d) FROM t", "2024-01-31"),
    ("SELECT to_iso8601(DATE '2024-02-01')", "2024-02-01"),
    ("SELECT to_iso8601(from_iso8601_timestamp('2024-01-31T13:05:09.5+02:00'))", "2024-01-31T11:05:09.500Z"),
    ("SELECT to_iso8601(x) FROM (SELECT date(ts) AS x FROM t)", "2024-01-31"),
    # approx_percentile: exact nearest-rank locally
    ("SELECT approx_percentile(x, 0.99) FROM unnest(sequence(1, 100)) AS u(x)", 99),
    ("SELECT approx_percentile(x, 0.5) FROM unnest(sequence(1, 100)) AS u(x)", 50),
    ("SELECT approx_percentile(x, ARRAY[0.5, 0.9, 0.99]) FROM unnest(sequence(1, 100)) AS u(x)", [50, 90, 99]),
    ("SELECT approx_percentile(CAST(x AS double), 0.5) FROM unnest(sequence(1, 5)) AS u(x)", 3.0),
    # Athena names: catalog.db.table and db.table
    ('SELECT count(*) FROM "awsdatacatalog"."db"."t"', 1),
    ("SELECT count(*) FROM AwsDataCatalog.db.t", 1),
    ("SELECT count(*) FROM db.t", 1),
    ('SELECT "awsdatacatalog"."db"."t".a FROM "awsdatacatalog"."db"."t"', 7),
    # dates and times
    ("SELECT date_trunc('hour', ts) FROM t", datetime(2024, 1, 31, 13)),
    ("SELECT date_trunc('month', d) FROM t", date(2024, 1, 1)),
    ("SELECT date_trunc('month', ts) FROM t", datetime(2024, 1, 1)),
    ("SELECT from_iso8601_timestamp('2024-01-31T13:05:09Z')", datetime(2024, 1, 31, 13, 5, 9, tzinfo=UTC)),
    ("SELECT from_iso8601_timestamp('2024-01-31T13:05:09Z') = TIMESTAMP '2024-01-31 13:05:09'", True),
    ("SELECT from_iso8601_date('2024-01-31')", date(2024, 1, 31)),
    ("SELECT TIMESTAMP '2024-01-31 13:05:09.5'", datetime(2024, 1, 31, 13, 5, 9, 500000)),
    ("SELECT date_diff('day', DATE '2024-01-01', d) FROM t", 30),
    ("SELECT date_diff('day', TIMESTAMP '2024-01-01 23:00', TIMESTAMP '2024-01-02 01:00')", 0),  # whole days
    ("SELECT date_diff('hour', d, ts) FROM t", 13),
    ("SELECT date_format(ts, '%Y-%m-%d %H:%i:%s') FROM t", "2024-01-31 13:05:09"),
    ("SELECT date_format(ts, '%W %M %e') FROM t", "Wednesday January 31"),
    ("SELECT date_parse(dt, '%Y-%m-%d') FROM t", datetime(2024, 1, 31)),
    ("SELECT day_of_week(ts), hour(ts) FROM t", (3, 13)),
    # maps, arrays, casts, regexes
    ("SELECT dimensions['EndpointName'] FROM t", "ep-a"),
    ("SELECT element_at(dimensions, 'VariantName') FROM t", "AllTraffic"),
    ("SELECT element_at(dimensions, 'Missing') FROM t", None),
    ("SELECT cardinality(dimensions), cardinality(tags) FROM t", (2, 2)),
    ("SELECT cardinality(ARRAY['a', 'b', 'c'])", 3),
    ("SELECT try_cast('x' AS integer), try_cast('12' AS bigint)", (None, 12)),
    ("SELECT regexp_like('ep-prod-1', '^ep-.*-\\d$'), regexp_like('x', 'y')", (True, False)),
    ("SELECT if(a > 5, 'big', 'small'), count_if(a > 5) FROM t GROUP BY a", ("big", 1)),
    ("SELECT array_join(tags, ','), contains(tags, 'y') FROM t", ("x,y", True)),
    ("SELECT count(*) FROM t CROSS JOIN UNNEST(tags) AS u(tag)", 2),
    ("WITH x AS (SELECT 1 AS a) SELECT a FROM x", 1),
    ("VALUES 42", 42),
    # monitor_violations.details: canonical JSON text
    ("""SELECT json_extract_scalar('{"window":"1h","statistic":{"name":"psi"}}', '$.statistic.name')""", "psi"),
    ("""SELECT json_extract_scalar('{"window":"1h"}', '$.missing')""", None),
]


@pytest.mark.parametrize(("athena_sql", "expected"), CASES, ids=[c[0][:60] for c in CASES])
def test_construct_gives_athenas_value(con: duckdb.DuckDBPyConnection, athena_sql: str, expected: Any) -> None:
    assert value(con, athena_sql) == expected


def test_date_results_are_dates_not_timestamps(con: duckdb.DuckDBPyConnection) -> None:
    sql = athena_to_duckdb("SELECT date_add('day', 1, d), date_trunc('month', d) FROM t", date_columns={"d"})
    assert [str(t) for t in con.sql(sql).types] == ["DATE", "DATE"]


def test_division_by_zero_fails_as_in_athena(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(duckdb.Error, match="(?i)division by zero"):
        value(con, "SELECT a / 0 FROM t")


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("CREATE EXTERNAL TABLE x (a int) LOCATION 's3://b/x/'", "CREATE"),
        ("CREATE TABLE x WITH (format = 'PARQUET') AS SELECT 1", "CREATE"),
        ("MSCK REPAIR TABLE t", "MSCK"),
        ("DROP TABLE t", "DROP"),
        ("INSERT INTO t SELECT * FROM t", "INSERT"),
        ("ALTER TABLE t ADD PARTITION (dt = '2024-01-01')", "ALTER"),
    ],
)
def test_ddl_and_writes_are_refused(sql: str, kind: str) -> None:
    with pytest.raises(UnsupportedQueryError, match=f"{kind}.*only runs SELECT") as raised:
        athena_to_duckdb(sql)
    assert isinstance(raised.value, FatalError)


def test_weighted_percentile_is_refused_not_silently_unweighted() -> None:
    with pytest.raises(UnsupportedQueryError, match="weighted approx_percentile"):
        athena_to_duckdb("SELECT approx_percentile(value, weight, 0.5) FROM t")


def test_several_statements_are_refused() -> None:
    with pytest.raises(UnsupportedQueryError, match="exactly one statement"):
        athena_to_duckdb("SELECT 1; SELECT 2")


def test_a_parse_error_carries_sqlglots_message() -> None:
    with pytest.raises(QueryError, match=r"not valid Athena SQL: Expected table name.*line 1, column 19") as raised:
        athena_to_duckdb("SELECT a FROM WHERE x")
    assert "\x1b" not in str(raised.value)  # no terminal escapes in logs
    assert isinstance(raised.value, FatalError)


def test_joda_formats_must_be_literals_and_known() -> None:
    with pytest.raises(UnsupportedQueryError, match="string literal"):
        athena_to_duckdb("SELECT format_datetime(ts, fmt) FROM t")
    with pytest.raises(UnsupportedQueryError, match="'GG'"):
        athena_to_duckdb("SELECT format_datetime(ts, 'GG yyyy') FROM t")


@pytest.mark.parametrize(
    ("joda", "strftime", "parsing"),
    [
        ("yyyy-MM-dd HH:mm:ss", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S"),
        ("d/M/yy h:m a", "%-d/%-m/%y %-I:%-M %p", "%d/%m/%y %I:%M %p"),
        ("yyyy-MM-dd'T'HH:mm:ss.SSSZ", "%Y-%m-%dT%H:%M:%S.%g%z", "%Y-%m-%dT%H:%M:%S.%g%z"),
        ("'it''s' 100% D", "it's 100%% %-j", "it's 100%% %j"),
        ("''", "'", "'"),
    ],
)
def test_joda_patterns(joda: str, strftime: str, parsing: str) -> None:
    assert joda_to_strftime(joda) == strftime
    assert joda_to_strftime(joda, parsing=True) == parsing


@settings(max_examples=50, deadline=None)
@given(moment=st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)))
def test_format_then_parse_datetime_round_trips(moment: datetime) -> None:
    con = duckdb.connect()
    for statement in DUCKDB_SETTINGS:
        con.execute(statement)
    literal = moment.strftime("%Y-%m-%d %H:%M:%S.%f")
    pattern = "'yyyy-MM-dd HH:mm:ss.SSS'"
    sql = f"SELECT parse_datetime(format_datetime(TIMESTAMP '{literal}', {pattern}), {pattern})"
    got = con.sql(athena_to_duckdb(sql)).fetchall()[0][0]
    assert got == moment.replace(microsecond=moment.microsecond // 1000 * 1000, tzinfo=UTC)
