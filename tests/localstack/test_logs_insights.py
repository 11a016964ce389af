"""The local stack's Logs Insights evaluator on the supported subset, and the pipeline's queries run through it."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.config import DEFAULT_ERROR_PATTERNS
from pipelines.errors import FatalError
from pipelines.localstack.logs_insights import (
    InsightsQueryError,
    Instant,
    LogRecord,
    compare_values,
    evaluate,
    parse_query,
)
from pipelines.localstack.moto_patch import MethodPatch
from pipelines.sources.endpoint_log_patterns.extract import log_pattern_query, parse_insights_time

T0 = int(datetime(2025, 6, 3, tzinfo=UTC).timestamp() * 1000)
HOUR = 3_600_000


def rec(offset_ms: int, message: str, stream: str = "AllTraffic/i-1", group: str = "/aws/sagemaker/Endpoints/ep") -> LogRecord:
    return LogRecord(T0 + offset_ms, message, stream, f"111111111111:{group}", T0 + offset_ms + 5, str(offset_ms))


def as_dicts(rows: list[list[tuple[str, str]]]) -> list[dict[str, str]]:
    return [dict(row) for row in rows]


# --- the query the pipeline sends ---------------------------------------------------------------


def test_pattern_query_counts_and_samples_per_hour_and_log_group():
    records = [
        rec(2 * HOUR + 60_000, "HTTP 504 Gateway Timeout"),
        rec(2 * HOUR + 5_000, "POST /invocations 502"),  # earlier in the hour: the sample
        rec(2 * HOUR + 9_000, "GET /ping 200"),
        rec(3 * HOUR, "status=503", group="/aws/sagemaker/Endpoints/other"),
        rec(3 * HOUR + 1, "port 5000 is fine"),  # four digits: no match
    ]
    result = evaluate(log_pattern_query(DEFAULT_ERROR_PATTERNS["http_5xx"]), records)
    assert as_dicts(result.rows) == [
        {
            "bin(1h)": "2025-06-03 02:00:00.000",
            "@log": "111111111111:/aws/sagemaker/Endpoints/ep",
            "n": "2",
            "sample": "POST /invocations 502",
        },
        {
            "bin(1h)": "2025-06-03 03:00:00.000",
            "@log": "111111111111:/aws/sagemaker/Endpoints/other",
            "n": "1",
            "sample": "status=503",
        },
    ]
    assert (result.records_scanned, result.records_matched) == (5, 3)


def test_pattern_query_is_case_insensitive_and_escapes_slashes():
    query = log_pattern_query(r"read/write timed out")
    assert r"/(?i)read\/write timed out/" in query
    result = evaluate(query, [rec(0, "READ/WRITE TIMED OUT after 60s"), rec(1, "read write timed out")])
    assert as_dicts(result.rows)[0]["n"] == "1"


def test_pattern_query_merges_leading_flags_and_keeps_escaped_slashes():
    query = log_pattern_query(r"(?s)a\/b.c")
    assert r"/(?is)a\/b.c/" in query
    assert as_dicts(evaluate(query, [rec(0, "A/B\nC")]).rows)[0]["n"] == "1"


@pytest.mark.parametrize("pattern", [r"(?=x)y", r"(a)\1", "(unclosed"])
def test_pattern_query_refuses_what_insights_cannot_run(pattern):
    with pytest.raises(FatalError):
        log_pattern_query(pattern)


@settings(max_examples=150, deadline=None)
@given(
    events=st.lists(st.tuples(st.integers(0, 3 * HOUR - 1), st.text(alphabet="ab5 0Tt/", max_size=12)), max_size=40),
    pattern=st.sampled_from([r"\b5\d\d\b", "a+b", "t/t", "^b", "5|T"]),
)
def test_pattern_query_agrees_with_python_regex_per_hour(events, pattern):
    records = [rec(offset, message) for offset, message in events]
    rows = as_dicts(evaluate(log_pattern_query(pattern), records).rows)
    regex = re.compile(pattern, re.IGNORECASE)
    hits = [(offset, i, m) for i, (offset, m) in enumerate(events) if regex.search(m)]
    expected = Counter(offset // HOUR for offset, _, _ in hits)
    got = {(parse_insights_time(r["bin(1h)"]) - datetime(2025, 6, 3)).seconds // 3600: int(r["n"]) for r in rows}
    assert got == dict(expected)
    for row in rows:
        hour = (parse_insights_time(row["bin(1h)"]) - datetime(2025, 6, 3)).seconds // 3600
        earliest = min((o, i, m) for o, i, m in hits if o // HOUR == hour)
        assert row.get("sample", "") == earliest[2]


# --- the language subset ------------------------------------------------------------------------


def test_fields_sort_limit_and_ptr():
    records = [rec(i * 1000, f"line {i}") for i in range(5)]
    rows = as_dicts(evaluate("fields @timestamp, @message | sort @timestamp asc | limit 2", records).rows)
    assert rows == [
        {"@timestamp": "2025-06-03 00:00:00.000", "@message": "line 0", "@ptr": "0"},
        {"@timestamp": "2025-06-03 00:00:01.000", "@message": "line 1", "@ptr": "1000"},
    ]


def test_default_order_is_newest_first_and_default_fields():
    rows = as_dicts(evaluate("filter @message like /x/", [rec(0, "x1"), rec(5, "x2"), rec(3, "y")]).rows)
    assert [r["@message"] for r in rows] == ["x2", "x1"]
    assert set(rows[0]) == {"@timestamp", "@message", "@ptr"}


def test_filter_boolean_operators_strings_and_negation():
    records = [rec(0, "error a"), rec(1, "error b"), rec(2, "warn a"), rec(3, "info")]
    query = 'filter (@message like /error/ and not @message like "b") or @message =~ /^warn/ | sort @message asc'
    assert [r["@message"] for r in as_dicts(evaluate(query, records).rows)] == ["error a", "warn a"]
    assert len(evaluate("filter @message not like /a/", records).rows) == 2
    assert len(evaluate('filter @logStream = "AllTraffic/i-1"', records).rows) == 4
    assert len(evaluate('filter @logStream != "AllTraffic/i-1"', records).rows) == 0


def test_stats_count_earliest_latest_by_minutes_and_field():
    records = [
        rec(0, "a", stream="s1"),
        rec(61_000, "b", stream="s1"),
        rec(30_000, "c", stream="s2"),
        rec(20_000, "d", stream="s1"),
    ]
    query = "stats count(*), earliest(@message) as first, latest(@message) as last by bin(1m), @logStream"
    rows = as_dicts(evaluate(query, records).rows)
    assert rows == [
        {"bin(1m)": "2025-06-03 00:00:00.000", "@logStream": "s1", "count(*)": "2", "first": "a", "last": "d"},
        {"bin(1m)": "2025-06-03 00:00:00.000", "@logStream": "s2", "count(*)": "1", "first": "c", "last": "c"},
        {"bin(1m)": "2025-06-03 00:01:00.000", "@logStream": "s1", "count(*)": "1", "first": "b", "last": "b"},
    ]


def test_stats_without_groups_and_sort_on_aggregate():
    records = [rec(i, "x" if i % 3 else "y", stream=f"s{i % 2}") for i in range(9)]
    assert as_dicts(evaluate("stats count(*) as n", records).rows) == [{"n": "9"}]
    rows = as_dicts(
        evaluate("filter @message like /x/ | stats count(*) as n by @logStream | sort n desc | limit 1", records).rows
    )
    assert rows == [{"@logStream": "s1", "n": "3"}] or rows == [{"@logStream": "s0", "n": "3"}]
    assert evaluate("stats count(*) as n by bin(1h)", []).rows == []


def test_bin_widths_and_units():
    records = [rec(0, "a"), rec(HOUR * 25, "b")]
    assert [r["bin(1d)"] for r in as_dicts(evaluate("stats count(*) by bin(1d)", records).rows)] == [
        "2025-06-03 00:00:00.000",
        "2025-06-04 00:00:00.000",
    ]
    assert len(evaluate("stats count(*) by bin(30min)", records).rows) == 2
    assert len(evaluate("stats count(*) by bin(2hours)", records).rows) == 2


def test_limit_argument_caps_rows():
    records = [rec(i, "x") for i in range(20)]
    assert len(evaluate("fields @message", records, limit=7).rows) == 7
    assert len(evaluate("fields @message | limit 3", records, limit=7).rows) == 3


def test_comments_and_whitespace():
    query = (
        "# count errors\nfields @message  # what we show\n| filter @message like /e#x/ # the # inside the regex is not a comment"
    )
    assert len(evaluate(query, [rec(0, "e#x"), rec(1, "ex")]).rows) == 1


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("parse @message 'a * b' as x", "unsupported command 'parse'"),
        ("fields @message |", "empty command"),
        ("stats avg(x)", "unsupported function 'avg'"),
        ("stats count(*) by bin(1w)", "unsupported bin width"),
        ("filter @message like /(?<=a)b/", "lookaround"),
        ("filter @message like /(/", "regex"),
        ('filter @message matches "x"', "unsupported operator"),
        ("filter @message > 3", "unexpected character"),
        ("limit many", "positive integer"),
        ("stats count(*) | stats count(*)", "only one stats"),
        ("stats count(*) as n, earliest(@message) as n", "duplicate column"),
        ("fields @message extra", "unexpected 'extra'"),
        ("filter @message like $", "unexpected character"),
    ],
)
def test_outside_the_subset_is_an_error(query, message):
    with pytest.raises(InsightsQueryError, match=re.escape(message)):
        parse_query(query)


def test_natural_order_of_values():
    values = ["a10", "a9", "10", "9", "B", "@", Instant(5), 3]
    from functools import cmp_to_key

    assert sorted(values, key=cmp_to_key(compare_values)) == ["@", "B", "a9", "a10", 3, Instant(5), "9", "10"]


@given(st.integers(0, 4_102_444_800_000))
def test_instant_prints_like_insights_and_parses_back(ms):
    text = str(Instant(ms))
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}", text)
    assert parse_insights_time(text) == datetime.fromtimestamp(ms / 1000, tz=UTC).replace(
        tzinfo=None, microsecond=(ms % 1000) * 1000
    )


# --- the reversible patch -----------------------------------------------------------------------


class _Base:
    def inherited(self) -> str:
        return "base"


class _Target(_Base):
    def own(self) -> str:
        return "own"


def test_method_patch_is_idempotent_reference_counted_and_reversible():
    patch = MethodPatch(
        (
            (_Target, "own", lambda self: "patched own"),
            (_Target, "inherited", lambda self: "patched inherited"),
            (_Target, "added", lambda self: "added"),
        )
    )
    patch.acquire(1)
    patch.acquire(1)
    patch.acquire(2)
    target = _Target()
    assert (target.own(), target.inherited(), target.added()) == ("patched own", "patched inherited", "added")  # type: ignore[attr-defined]
    patch.release(1)
    assert patch.installed and target.own() == "patched own"
    patch.release(2)
    assert not patch.installed
    assert (target.own(), target.inherited(), hasattr(target, "added")) == ("own", "base", False)
    assert "inherited" not in _Target.__dict__
