"""KPI drops -> business_kpis parts: parsing, names matched loosely, errors that name file, row and column."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.audit.engine import validate_table
from pipelines.audit.suites import load_suite
from pipelines.lake.schemas import BUSINESS_KPIS
from pipelines.sources.business_kpis.inbox import Inbox, InboxFile, RejectedDrop, read_csv, read_parquet
from pipelines.sources.business_kpis.landing import Drop, latest_parts
from pipelines.sources.business_kpis.table import (
    DateWindow,
    business_kpis_parts,
    parse_date,
    parse_kpi_name,
    parse_value,
    unit_file_name,
)

URI = "s3://acme-ml-lake/inbox/kpis/drop.csv"
LOADED = dt.datetime(2025, 6, 10, 4, 30)
NIGHT = dt.date(2025, 6, 9)  # what the nightly lands at LOADED: the day before
WINDOW = DateWindow.landing(NIGHT, LOADED)
GOOD = b"""date,business_unit,kpi,value,unit
2025-06-02,Payments,revenue,1234.5,USD
2025-06-02,Payments,conversion_rate,0.91,ratio
2025-06-02,Marketplace,revenue,"2,500,000.25",USD
2025-06-03,Payments,revenue,1300,USD
"""


def parts_of(body: bytes, uri: str = URI, window: DateWindow | None = WINDOW) -> list:
    return business_kpis_parts(read_csv(uri, body), uri, LOADED, window=window)


def rejection(body: bytes, uri: str = URI, window: DateWindow | None = WINDOW) -> str:
    with pytest.raises(RejectedDrop) as raised:
        parts_of(body, uri, window)
    return str(raised.value)


def test_a_drop_splits_by_day_and_business_unit_with_the_contract_schema() -> None:
    parts = parts_of(GOOD)
    assert [(p.dt, p.business_unit, p.file_name) for p in parts] == [
        ("2025-06-02", "Marketplace", "part-marketplace"),
        ("2025-06-02", "Payments", "part-payments"),
        ("2025-06-03", "Payments", "part-payments"),
    ]
    assert all(p.table.schema.equals(BUSINESS_KPIS.schema) for p in parts)
    assert parts[1].table.to_pylist() == [
        {
            "business_unit": "Payments",
            "kpi_name": "conversion_rate",
            "value": 0.91,
            "unit": "ratio",
            "source_uri": URI,
            "loaded_at": LOADED,
        },
        {
            "business_unit": "Payments",
            "kpi_name": "revenue",
            "value": 1234.5,
            "unit": "USD",
            "source_uri": URI,
            "loaded_at": LOADED,
        },
    ]
    assert parts[0].table.column("value").to_pylist() == [2_500_000.25]


def test_column_names_are_trimmed_and_case_insensitive_and_unit_is_optional() -> None:
    body = b" Date ,BUSINESS_UNIT, Kpi ,Value\n2025-06-02, Growth ,Conversion Rate, 0.12 \n"
    [part] = parts_of(body)
    assert part.table.select(["business_unit", "kpi_name", "value", "unit"]).to_pylist() == [
        {"business_unit": "Growth", "kpi_name": "conversion_rate", "value": 0.12, "unit": None}
    ]


def test_excel_bom_and_column_order_do_not_matter() -> None:
    body = "\ufeffvalue,unit,kpi,business_unit,date\n7,,orders,Growth,2025-06-02\n".encode()
    [part] = parts_of(body)
    assert part.table.column("value").to_pylist() == [7.0] and part.table.column("unit").to_pylist() == [None]


def test_a_non_number_names_file_row_and_column() -> None:
    body = GOOD + b"2025-06-03,Payments,orders,abc,count\n"
    assert rejection(body) == f"{URI} row 6 column value: 'abc' is not a number"


@pytest.mark.parametrize("cell", ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1:A2)", '"\tPayments"', '" =HYPERLINK(""x"")"'])
def test_a_formula_in_a_text_cell_is_refused_naming_row_and_column(cell: str) -> None:
    """CSV injection: a business unit a spreadsheet would run as a formula, in the exports people open from the report."""
    body = GOOD + f"2025-06-03,{cell},orders,12,count\n".encode()
    message = rejection(body)
    assert message.startswith(f"{URI} row 6 column business_unit: ") and "starts like a spreadsheet formula" in message


def test_a_dash_or_plus_inside_a_name_is_fine() -> None:
    parts = parts_of(GOOD + b"2025-06-03,Pay-ments+Growth,orders,12,count\n")
    assert "Pay-ments+Growth" in {r["business_unit"] for part in parts for r in part.table.to_pylist()}


def test_every_problem_is_listed_with_its_row() -> None:
    body = b"date,business_unit,kpi,value\n06/02/2025,Payments,revenue,1\n2025-06-02,,revenue,1\n2025-02-30,Growth,orders,\n"
    message = rejection(body)
    assert message.startswith(f"{URI} row 2 column date: '06/02/2025' is not a date (YYYY-MM-DD)")
    assert "row 3 column business_unit: is empty" in message
    assert "row 4 column date: '2025-02-30' is not a valid date" in message
    assert "row 4 column value: is empty" in message


@pytest.mark.parametrize(
    ("day", "message"),
    [
        ("2206-01-01", "2206-01-01 is after the night being landed (2025-06-09)"),  # a typo'd year
        ("2025-06-10", "2025-06-10 is after the night being landed (2025-06-09)"),  # today's date on yesterday's figures
        ("1926-01-01", "1926-01-01 is more than 366 days before the night being landed (2025-06-09)"),
        ("2024-06-07", "2024-06-07 is more than 366 days before the night being landed (2025-06-09)"),
    ],
)
def test_a_day_outside_the_window_refuses_the_file_naming_row_and_column(day: str, message: str) -> None:
    body = GOOD + f"{day},Payments,orders,12,count\n".encode()
    assert rejection(body) == f"{URI} row 6 column date: {message}"


def test_the_window_runs_from_a_year_and_a_day_before_the_night_to_the_night() -> None:
    """Late corrections land up to 366 days back (2024-06-08): the same day last year even with a 29 February between."""
    body = b"date,business_unit,kpi,value\n2024-06-08,P,revenue,1\n2025-01-31,P,revenue,2\n2025-06-09,P,revenue,3\n"
    assert [p.dt for p in parts_of(body)] == ["2024-06-08", "2025-01-31", "2025-06-09"]
    assert (WINDOW.earliest, WINDOW.latest) == (dt.date(2024, 6, 8), NIGHT)


def test_an_older_night_takes_the_drops_of_every_day_that_has_ended() -> None:
    """A backfill's first night (or a rerun of an old night) takes the whole inbox: days after it that have ended land."""
    backfill = DateWindow.landing(dt.date(2025, 6, 3), LOADED)
    assert backfill.latest == dt.date(2025, 6, 9) and backfill.earliest == dt.date(2024, 6, 2)
    assert [p.dt for p in parts_of(b"date,business_unit,kpi,value\n2025-06-09,P,revenue,1\n", window=backfill)] == ["2025-06-09"]
    message = rejection(b"date,business_unit,kpi,value\n2025-06-09,P,revenue,1\n2025-06-10,P,revenue,1\n", window=backfill)
    assert (
        message
        == f"{URI} row 3 column date: 2025-06-10 is after 2025-06-09, the last day (UTC) that had ended when the file was landed"
    )
    ahead = DateWindow.landing(dt.date(2027, 1, 1), dt.datetime(2026, 12, 1, 22))  # a night the clock has not reached
    assert ahead.latest == dt.date(2027, 1, 1)


def test_every_row_outside_the_window_is_listed_and_parquet_dates_are_checked_too() -> None:
    table = pa.table(
        {
            "date": pa.array([dt.datetime(2025, 6, 2), dt.datetime(2206, 1, 1), dt.datetime(1926, 1, 1)], pa.timestamp("ms")),
            "business_unit": ["G", "G", "G"],
            "kpi": ["a", "b", "c"],
            "value": [1.0, 2.0, 3.0],
        }
    )
    uri = "s3://b/inbox/x.parquet"
    with pytest.raises(RejectedDrop) as raised:
        business_kpis_parts(table, uri, LOADED, first_row=1, window=WINDOW)
    assert str(raised.value) == (
        f"{uri} row 2 column date: 2206-01-01 is after the night being landed (2025-06-09); "
        "row 3 column date: 1926-01-01 is more than 366 days before the night being landed (2025-06-09)"
    )
    parsed_alone = business_kpis_parts(table, uri, LOADED, first_row=1)  # no window: parsing alone takes any date
    assert [p.dt for p in parsed_alone] == ["1926-01-01", "2025-06-02", "2206-01-01"]


def test_wrong_columns_are_rejected_naming_them() -> None:
    message = rejection(b"day,business_unit,kpi,value,comment\n2025-06-02,Payments,revenue,1,x\n")
    assert message.startswith(f"{URI}: missing column date (found 'day', 'business_unit', 'kpi', 'value', 'comment')")
    assert "column 'day': unexpected column" in message and "column 'comment': unexpected column" in message


def test_a_column_given_twice_is_rejected() -> None:
    assert "column 'VALUE': appears twice" in rejection(b"date,business_unit,kpi,value,VALUE\n2025-06-02,P,revenue,1,2\n")


def test_a_semicolon_file_is_rejected_as_wrong_columns() -> None:
    message = rejection(b"date;business_unit;kpi;value\n2025-06-02;P;revenue;1\n")
    assert message.startswith(f"{URI}: missing columns date, business_unit, kpi, value (found 'date;business_unit;kpi;value')")


def test_a_ragged_row_is_rejected_with_its_row() -> None:
    with pytest.raises(RejectedDrop, match=r"drop.csv row 3: has 3 fields, the header has 4"):
        read_csv(URI, b"date,business_unit,kpi,value\n2025-06-02,P,revenue,1\n2025-06-02,P,orders\n")


@pytest.mark.parametrize("body", [b"date,business_unit,kpi,value\n", b"date,business_unit,kpi,value"])
def test_a_header_only_file_is_rejected(body: bytes) -> None:
    assert rejection(body) == f"{URI}: has no data rows"


def test_an_empty_file_is_rejected() -> None:
    with pytest.raises(RejectedDrop, match="drop.csv: not a readable CSV file"):
        read_csv(URI, b"")


def test_the_same_kpi_twice_for_a_day_and_unit_is_rejected() -> None:
    body = b"date,business_unit,kpi,value\n2025-06-02,P,revenue,1\n2025-06-02,P,Revenue,2\n"
    assert rejection(body) == f"{URI} row 3 column kpi: 'revenue' for P on 2025-06-02 repeats row 2"


def test_one_unit_spelt_two_ways_is_rejected() -> None:
    body = b"date,business_unit,kpi,value\n2025-06-02,Payments,revenue,1\n2025-06-03,payments,revenue,2\n"
    assert "row 3 column business_unit: 'payments' and 'Payments' (row 2) are the same business unit" in rejection(body)


def test_long_lists_of_problems_are_cut_short() -> None:
    body = b"date,business_unit,kpi,value\n" + b"".join(f"2025-06-02,P,k{i},x\n".encode() for i in range(8))
    message = rejection(body)
    assert message.count("is not a number") == 5 and message.endswith("; and 3 more")


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("1234.5", 1234.5),
        ("1,234.5", 1234.5),
        ("1,234,567", 1234567.0),
        ("-12", -12.0),
        (" 0.034 ", 0.034),
        ("1e6", 1e6),
        (".5", 0.5),
        (3, 3.0),
        (2.5, 2.5),
    ],
)
def test_values_parse(text: object, number: float) -> None:
    assert parse_value(text) == number


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "'abc' is not a number"),
        ("1,5", "'1,5' is ambiguous"),
        ("12,34", "'12,34' is ambiguous"),
        ("nan", "'nan' is not a number"),
        ("inf", "'inf' is not a number"),
        ("3.4%", "'3.4%' is not a number"),
        ("$12", "'$12' is not a number"),
        ("", "is empty"),
        (None, "is empty"),
        (True, "True is not a number"),
        (float("nan"), "nan is not a finite number"),
        ("1_000", "'1_000' is not a number"),
    ],
)
def test_values_that_are_not_numbers(text: object, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("$", r"\$").replace("%", "%")):
        parse_value(text)


def test_dates_and_kpi_names() -> None:
    assert (
        parse_date("2025-06-02") == parse_date(dt.date(2025, 6, 2)) == parse_date(dt.datetime(2025, 6, 2)) == dt.date(2025, 6, 2)
    )
    with pytest.raises(ValueError, match="has a time of day"):
        parse_date(dt.datetime(2025, 6, 2, 13))
    assert parse_kpi_name(" Fraud-Losses ") == "fraud_losses"
    with pytest.raises(ValueError, match="is not a KPI name"):
        parse_kpi_name("conv. %")


def test_unit_file_names_are_slugs() -> None:
    assert unit_file_name("Payments") == "part-payments"
    assert unit_file_name("Ads & Growth (EU)") == "part-ads-growth-eu"
    assert unit_file_name("Zürich Retail") == "part-zurich-retail"
    assert unit_file_name("支付").startswith("part-bu-")


def test_parquet_drops_keep_their_types() -> None:
    table = pa.table(
        {
            "Date": pa.array([dt.date(2025, 6, 2), dt.date(2025, 6, 2)]),
            "Business_Unit": ["Growth", "Growth"],
            "KPI": ["orders", "revenue"],
            "Value": pa.array([2900, 351_000.5]).cast(pa.float64()),
            "Unit": ["count", None],
        }
    )
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    uri = "s3://acme-ml-lake/inbox/kpis/growth.parquet"
    [part] = business_kpis_parts(read_parquet(uri, sink.getvalue().to_pybytes()), uri, LOADED, first_row=1)
    assert part.table.select(["kpi_name", "value", "unit"]).to_pylist() == [
        {"kpi_name": "orders", "value": 2900.0, "unit": "count"},
        {"kpi_name": "revenue", "value": 351_000.5, "unit": None},
    ]


def test_parquet_rows_are_counted_from_one() -> None:
    table = pa.table(
        {"date": ["2025-06-02", "2025-06-02"], "business_unit": ["G", "G"], "kpi": ["a", "b"], "value": pa.array([1.0, None])}
    )
    uri = "s3://b/inbox/x.parquet"
    with pytest.raises(RejectedDrop, match=r"x.parquet row 2 column value: is empty"):
        business_kpis_parts(table, uri, LOADED, first_row=1)


def test_a_corrupt_parquet_file_is_rejected() -> None:
    with pytest.raises(RejectedDrop, match="not a readable Parquet file"):
        read_parquet("s3://b/inbox/x.parquet", b"PAR1 not really")


def test_the_latest_drop_wins_per_day_and_unit() -> None:
    def drop(name: str, second: int, body: bytes) -> Drop:
        uri = f"s3://b/inbox/{name}"
        file = InboxFile(uri, name, len(body), dt.datetime(2025, 6, 10, 4, 0, second, tzinfo=dt.UTC))
        return Drop(file, parts_of(body, uri))

    early = drop("b.csv", 5, b"date,business_unit,kpi,value\n2025-06-02,P,revenue,1\n2025-06-02,M,revenue,1\n")
    late = drop("a.csv", 9, b"date,business_unit,kpi,value\n2025-06-02,P,revenue,2\n")
    tie = drop("c.csv", 5, b"date,business_unit,kpi,value\n2025-06-02,M,revenue,3\n")  # same second as b.csv: the key decides
    winners = latest_parts([late, tie, early])
    assert {key: w.part.table.column("value")[0].as_py() for key, w in winners.items()} == {
        ("2025-06-02", "part-p"): 2.0,
        ("2025-06-02", "part-m"): 3.0,
    }


def test_inbox_paths() -> None:
    inbox = Inbox.from_uri("s3://acme/inbox/kpis")
    assert inbox.uri == "s3://acme/inbox/kpis/"
    assert inbox.rejected_uri("2025/d.csv") == "s3://acme/inbox/kpis_rejected/2025/d.csv"
    assert inbox.processed_uri(dt.date(2025, 6, 3), "d.csv") == "s3://acme/inbox/kpis_processed/2025-06-03/d.csv"
    root = Inbox.from_uri("s3://acme/")
    assert root.rejected_uri("d.csv") == "s3://acme/_rejected/d.csv"
    assert not root.owns("_processed/2025-06-03/d.csv") and root.owns("d.csv") and not inbox.owns("inbox/kpis/sub/")


def test_the_suite_passes_parsed_drops_and_catches_impossible_values() -> None:
    suite = load_suite("business_kpis")
    table = pa.concat_tables(p.table for p in parts_of(GOOD) if p.dt == "2025-06-02")
    assert validate_table(table, suite, dt="2025-06-02").passed
    body = b"date,business_unit,kpi,value\n2025-06-02,P,conversion_rate,3.4\n2025-06-02,P,revenue,-5\n2025-06-02,P,nps,-40\n"
    report = validate_table(parts_of(body)[0].table, suite, dt="2025-06-02")
    assert not report.passed
    failed = report.failed_names()
    assert any("ratio_kpis" in name for name in failed) and any("non_negative_kpis" in name for name in failed)
    assert len(failed) == 2  # nps is not a known KPI: negative is fine
