"""A KPI drop's raw rows -> business_kpis tables, one per day and business unit, or a rejection naming row and column."""

from __future__ import annotations

import math
import re
import unicodedata
import zlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

from pipelines.lake.schemas import BUSINESS_KPIS
from pipelines.sources.business_kpis.inbox import Problem, RejectedDrop

COLUMNS = ("date", "business_unit", "kpi", "value", "unit")
REQUIRED = COLUMNS[:4]
MAX_PROBLEMS = 50  # enough to fix a file in one go; a wholly wrong file stops early
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_GROUPED_NUMBER = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")  # 1,234,567.89
_KPI_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# How far back before the night a row's date may go. Late corrections are real (chargebacks restate fraud losses
# weeks later, a quarter's close restates revenue, and the same day last year, which year-over-year charts compare
# with, may be corrected even across a 29 February): a year and a day covers them. An older date is a typo'd year
# (1926 or 2016 for 2026) that would silently replace a business unit's day in a past partition.
MAX_DAYS_BACK = 366


@dataclass(frozen=True)
class KpiPart:
    """One business unit's KPIs for one day from one drop: the unit's file in partition `dt`."""

    dt: str
    business_unit: str
    table: pa.Table  # exactly the business_kpis schema

    @property
    def file_name(self) -> str:
        return unit_file_name(self.business_unit)


@dataclass(frozen=True)
class DateWindow:
    """The days a drop's rows may carry when landed for `night`: from MAX_DAYS_BACK before it to `latest`.

    `latest` is the later of the night and the last day that had ended (UTC) when the drop was landed: a day after
    both has no result yet (a typo'd year such as 2206, or today's date written for yesterday's figures). It is not the
    night alone because the inbox's drops belong to no night: a backfill's first night, or a rerun of an old night,
    takes every drop in the inbox, the newest days' included.
    """

    night: date
    latest: date

    @classmethod
    def landing(cls, night: date, landed_at: datetime) -> DateWindow:
        """The window of drops landed at `landed_at` (UTC) for `night`."""
        return cls(night, max(night, landed_at.date() - timedelta(days=1)))

    @property
    def earliest(self) -> date:
        return self.night - timedelta(days=MAX_DAYS_BACK)

    def check(self, day: date) -> date:
        """`day` if a row may carry it, else ValueError saying which bound it crosses."""
        if day < self.earliest:
            raise ValueError(f"{day} is more than {MAX_DAYS_BACK} days before the night being landed ({self.night})")
        if day > self.latest:
            if self.latest == self.night:
                raise ValueError(f"{day} is after the night being landed ({self.night})")
            raise ValueError(f"{day} is after {self.latest}, the last day (UTC) that had ended when the file was landed")
        return day


def unit_file_name(business_unit: str) -> str:
    """`part-<slug>`: one file per business unit in each partition, so a unit's drop replaces only its file.

    Units whose names differ only in case or punctuation share a slug: they are one unit.
    """
    ascii_name = unicodedata.normalize("NFKD", business_unit).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")
    return f"part-{slug or 'bu-' + format(zlib.crc32(business_unit.encode('utf-8')), '08x')}"


def business_kpis_parts(
    raw: pa.Table, source_uri: str, loaded_at: datetime, first_row: int = 2, *, window: DateWindow | None = None
) -> list[KpiPart]:
    """Every row of a drop checked and typed, split by day and business unit (sorted by both).

    Column names are matched trimmed and case-insensitively; `kpi` becomes `kpi_name`. Dates must lie in
    `window` (the lander always gives one; None: any date).
    Raises RejectedDrop naming the file, row and column of every problem (up to MAX_PROBLEMS).
    """
    positions = _column_positions(raw, source_uri)
    if raw.num_rows == 0:
        raise RejectedDrop(source_uri, [Problem("has no data rows")])
    columns = {name: raw.column(index).to_pylist() for name, index in positions.items()}
    rows: dict[tuple[date, str], dict[str, tuple[float, str | None, int]]] = {}
    spelling: dict[str, tuple[str, int]] = {}  # unit file name -> (business unit as first written, row)
    problems: list[Problem] = []
    for i in range(raw.num_rows):
        row = first_row + i
        parsed = _parse_row(row, {name: values[i] for name, values in columns.items()}, problems, window)
        if parsed is None:
            if len(problems) >= MAX_PROBLEMS:
                break
            continue
        day, unit_name, kpi, value, unit = parsed
        first = spelling.setdefault(unit_file_name(unit_name), (unit_name, row))
        if first[0] != unit_name:
            same = f"{unit_name!r} and {first[0]!r} (row {first[1]}) are the same business unit; spell it one way"
            problems.append(Problem(same, row, "business_unit"))
            continue
        kpis = rows.setdefault((day, unit_name), {})
        if kpi in kpis:
            problems.append(Problem(f"{kpi!r} for {unit_name} on {day} repeats row {kpis[kpi][2]}", row, "kpi"))
            continue
        kpis[kpi] = (value, unit, row)
    if problems:
        raise RejectedDrop(source_uri, problems)
    return [_part(day, unit_name, kpis, source_uri, loaded_at) for (day, unit_name), kpis in sorted(rows.items())]


def _column_positions(raw: pa.Table, source_uri: str) -> dict[str, int]:
    """Canonical column name -> index in the drop; wrong, missing or repeated columns reject the file."""
    positions: dict[str, int] = {}
    problems = []
    for index, name in enumerate(raw.schema.names):
        canonical = name.strip().lstrip("\ufeff").strip().lower()
        if canonical not in COLUMNS:
            problems.append(Problem(f"unexpected column (expected {', '.join(REQUIRED)}[, unit])", column=repr(name)))
        elif canonical in positions:
            problems.append(Problem("appears twice (names are matched ignoring case and spaces)", column=repr(name)))
        else:
            positions[canonical] = index
    missing = [c for c in REQUIRED if c not in positions]
    if missing:
        found = ", ".join(map(repr, raw.schema.names)) or "none"
        problems.insert(0, Problem(f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} (found {found})"))
    if problems:
        raise RejectedDrop(source_uri, problems)
    return positions


def _parse_row(
    row: int, values: dict[str, Any], problems: list[Problem], window: DateWindow | None
) -> tuple[date, str, str, float, str | None] | None:
    """One record's typed values, or None after adding its problems."""
    before = len(problems)
    parsed: dict[str, Any] = {}
    day = parse_date if window is None else lambda value: window.check(parse_date(value))
    for column, parse in (("date", day), ("business_unit", parse_text), ("kpi", parse_kpi_name), ("value", parse_value)):
        try:
            parsed[column] = parse(values[column])
        except ValueError as error:
            problems.append(Problem(str(error), row, column))
    if len(problems) > before:
        return None
    unit = values.get("unit")
    unit = str(unit).strip() if unit is not None else ""
    return parsed["date"], parsed["business_unit"], parsed["kpi"], parsed["value"], unit or None


def parse_date(value: Any) -> date:
    """A calendar date: YYYY-MM-DD text, a date, or a timestamp at midnight (Parquet writers use both)."""
    if isinstance(value, datetime):
        if value.time() != datetime.min.time():
            raise ValueError(f"'{value.isoformat()}' has a time of day; expected a date (YYYY-MM-DD)")
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    if not _DATE.match(text):
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a valid date") from None


def parse_value(value: Any) -> float:
    """A finite number. Text may group thousands with commas ("1,234.5"); a decimal comma ("1,5") is ambiguous and rejected."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, (int, float, Decimal)):
        number = float(value)
    else:
        text = _text(value)
        if _PLAIN_NUMBER.match(text):
            number = float(text)
        elif _GROUPED_NUMBER.match(text):
            number = float(text.replace(",", ""))
        elif "," in text and _PLAIN_NUMBER.match(text.replace(",", "")):
            raise ValueError(f"{text!r} is ambiguous: write decimals with '.', and ',' only between groups of three digits")
        else:
            raise ValueError(f"{text!r} is not a number")
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


# A cell starting with one of these is a formula to a spreadsheet (CSV injection): the business unit would run as
# one in the exports people open from the report. Refused, never "fixed".
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def parse_text(value: Any) -> str:
    """Non-empty text, trimmed, that no spreadsheet would read as a formula."""
    text = _text(value)
    raw = str(value).lstrip(" ")
    if raw.startswith(_FORMULA_START) or text.startswith(_FORMULA_START):
        raise ValueError(f"{text[:40]!r} starts like a spreadsheet formula ({raw[:1]!r}); name it without that")
    return text


def parse_kpi_name(value: Any) -> str:
    """A KPI name as an identifier: trimmed, lower case, spaces and hyphens as underscores ("Conversion Rate" -> conversion_rate)."""
    text = _text(value)
    name = re.sub(r"[\s-]+", "_", text.lower())
    if not _KPI_NAME.match(name):
        raise ValueError(f"{text!r} is not a KPI name (a letter, then letters, digits or underscores)")
    return name


def _text(value: Any) -> str:
    text = "" if value is None else str(value).strip()
    if not text:
        raise ValueError("is empty")
    return text


def _part(
    day: date, unit_name: str, kpis: dict[str, tuple[float, str | None, int]], source_uri: str, loaded_at: datetime
) -> KpiPart:
    names = sorted(kpis)
    table = pa.table(
        {
            "business_unit": [unit_name] * len(names),
            "kpi_name": names,
            "value": [kpis[n][0] for n in names],
            "unit": [kpis[n][1] for n in names],
            "source_uri": [source_uri] * len(names),
            "loaded_at": [loaded_at] * len(names),
        },
        schema=BUSINESS_KPIS.schema,
    )
    return KpiPart(day.isoformat(), unit_name, table)
