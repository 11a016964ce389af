"""The analysis's filter groups as rules a preview can apply: rolling dates evaluated at a given `now`, scopes resolved."""

from __future__ import annotations

import calendar
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pipelines.publish.quicksight.preview_model import UnsupportedDefinitionError, Visual

_TOKEN = re.compile(r"\s*(?:(-?\d+)|'([^']*)'|([A-Za-z_]\w*)|(\S))")
_INCLUDE = {"CONTAINS", "EQUALS"}
_EXCLUDE = {"DOES_NOT_CONTAIN", "DOES_NOT_EQUAL"}


@dataclass(frozen=True)
class DateRange:
    low: date | None
    high: date | None  # inclusive, in days (bounds are truncated to the filter's granularity)


@dataclass(frozen=True)
class FilterRule:
    """One filter of a filter group: where it applies and what it keeps."""

    filter_id: str
    dataset: str
    column: str
    all_datasets: bool  # CrossDataset ALL_DATASETS: every dataset with a column of that name
    scope: Mapping[str, frozenset[str] | None]  # sheet -> its visual ids (None: all of the sheet's visuals)
    dates: DateRange | None = None
    expressions: tuple[str, str] = ("", "")  # the rolling-date expressions, for the description
    values: tuple[str, ...] | None = None  # None: all values
    exclude: bool = False
    null_option: str = "ALL_VALUES"

    def applies_to(self, visual: Visual, columns: Collection[str]) -> bool:
        if visual.sheet_id not in self.scope:
            return False
        visuals = self.scope[visual.sheet_id]
        if visuals is not None and visual.visual_id not in visuals:
            return False
        return self.column in columns if self.all_datasets else self.dataset == visual.dataset

    @property
    def visual_scoped(self) -> bool:
        return any(v is not None for v in self.scope.values())

    def describe(self, title: str = "") -> str:
        """What the filter keeps, in words ("all business units", "2026-10-25 .. 2026-11-24")."""
        if self.dates is not None:
            low = self.dates.low.isoformat() if self.dates.low else "any day"
            high = self.dates.high.isoformat() if self.dates.high else "any day"
            return f"{low} .. {high}"
        if self.values is None:
            noun = (title or self.column.replace("_", " ")).lower()
            return f"all {noun}s" + (" (blanks excluded)" if self.null_option == "NON_NULLS_ONLY" and not title else "")
        listed = ", ".join(self.values)
        return f"not {listed}" if self.exclude else listed


def read_filters(definition: Mapping[str, Any], now: datetime) -> list[FilterRule]:
    """Every enabled filter of the definition's filter groups, rolling dates evaluated against `now`."""
    sheets = [s["SheetId"] for s in definition.get("Sheets", [])]
    rules = []
    for group in definition.get("FilterGroups", []):
        if group.get("Status", "ENABLED") != "ENABLED":
            continue
        scope = _scope(group.get("ScopeConfiguration", {}), sheets)
        for entry in group.get("Filters", []):
            kind, spec = next(iter(entry.items()))
            common = {
                "filter_id": spec["FilterId"],
                "dataset": spec["Column"]["DataSetIdentifier"],
                "column": spec["Column"]["ColumnName"],
                "all_datasets": group.get("CrossDataset") == "ALL_DATASETS",
                "scope": scope,
            }
            if kind == "TimeRangeFilter":
                rules.append(_time_range(spec, common, now))
            elif kind == "CategoryFilter":
                rules.append(_category(spec, common))
            else:
                raise UnsupportedDefinitionError(f"filter {spec.get('FilterId')}: {kind} is not supported by the preview")
    return rules


def _scope(config: Mapping[str, Any], sheets: list[str]) -> dict[str, frozenset[str] | None]:
    if "AllSheets" in config:
        return dict.fromkeys(sheets)
    scope: dict[str, frozenset[str] | None] = {}
    for entry in config.get("SelectedSheets", {}).get("SheetVisualScopingConfigurations", []):
        selected = entry.get("Scope") == "SELECTED_VISUALS"
        scope[entry["SheetId"]] = frozenset(entry.get("VisualIds", [])) if selected else None
    return scope


def _time_range(spec: Mapping[str, Any], common: dict[str, Any], now: datetime) -> FilterRule:
    where = f"filter {spec['FilterId']}"
    granularity = spec.get("TimeGranularity", "DAY")
    unit = {"YEAR": "YYYY", "QUARTER": "Q", "MONTH": "MM", "WEEK": "WK"}.get(granularity, "DD")
    bounds: list[date | None] = []
    expressions = []
    for key, include in (
        ("RangeMinimumValue", spec.get("IncludeMinimum", True)),
        ("RangeMaximumValue", spec.get("IncludeMaximum", True)),
    ):
        value = spec.get(key)
        if value is None:
            bounds.append(None)
            expressions.append("")
            continue
        if "RollingDate" in value:
            expression = value["RollingDate"]["Expression"]
            moment = RollingDate(expression, where).evaluate(now)
        elif "StaticValue" in value:
            expression = str(value["StaticValue"])
            moment = datetime.fromisoformat(expression.replace("Z", "+00:00")).replace(tzinfo=None)
        else:
            raise UnsupportedDefinitionError(f"{where}: {key} {sorted(value)} is not supported (rolling or static dates only)")
        expressions.append(expression)
        # Compared at the filter's granularity: a bound covers its whole day (week, month...).
        start = _truncate(moment, unit)
        if key == "RangeMinimumValue":
            bounds.append((start if include else _add(start, 1, unit)).date())
        else:
            bounds.append(((_add(start, 1, unit) if include else start) - timedelta(days=1)).date())
    return FilterRule(**common, dates=DateRange(bounds[0], bounds[1]), expressions=(expressions[0], expressions[1]))


def _category(spec: Mapping[str, Any], common: dict[str, Any]) -> FilterRule:
    config = spec.get("Configuration", {})
    listed = config.get("FilterListConfiguration") or config.get("CustomFilterListConfiguration")
    if listed is None:
        raise UnsupportedDefinitionError(
            f"filter {spec['FilterId']}: only filter-list category filters are supported, not {sorted(config)}"
        )
    operator = listed.get("MatchOperator", "CONTAINS")
    if operator not in _INCLUDE | _EXCLUDE:
        raise UnsupportedDefinitionError(f"filter {spec['FilterId']}: match operator {operator} is not supported")
    every = listed.get("SelectAllOptions") == "FILTER_ALL_VALUES" or not listed.get("CategoryValues")
    values = None if every else tuple(str(v) for v in listed["CategoryValues"])
    return FilterRule(**common, values=values, exclude=operator in _EXCLUDE, null_option=listed.get("NullOption", "ALL_VALUES"))


class RollingDate:
    """A QuickSight rolling-date expression: now(), truncDate('unit', e), addDateTime(n, 'unit', e)."""

    def __init__(self, expression: str, where: str) -> None:
        self.expression, self.where = expression, where
        found = [next((i, t) for i, t in enumerate(m.groups()) if t is not None) for m in _TOKEN.finditer(expression)]
        self.kinds = [kind for kind, _ in found]
        self.tokens = [token for _, token in found]
        self.position = 0

    def evaluate(self, now: datetime) -> datetime:
        self.position = 0
        value = self._expression(now)
        if self.position != len(self.tokens):
            self._fail("unexpected text after the expression")
        return value

    def _expression(self, now: datetime) -> datetime:
        name = self._take(2).lower()
        self._expect("(")
        if name == "now":
            self._expect(")")
            return now.replace(tzinfo=None)
        if name == "truncdate":
            unit = self._take(1)
            self._expect(",")
            inner = self._expression(now)
            self._expect(")")
            return _truncate(inner, self._unit(unit))
        if name == "adddatetime":
            amount = int(self._take(0))
            self._expect(",")
            unit = self._take(1)
            self._expect(",")
            inner = self._expression(now)
            self._expect(")")
            return _add(inner, amount, self._unit(unit))
        return self._fail(f"function {name}() is not supported")

    def _take(self, kind: int) -> str:
        if self.position >= len(self.tokens) or self.kinds[self.position] != kind:
            self._fail(["a number", "a quoted unit", "a function name", "a symbol"][kind] + " expected")
        self.position += 1
        return self.tokens[self.position - 1]

    def _expect(self, symbol: str) -> None:
        if self._take(3) != symbol:
            self._fail(f"{symbol!r} expected")

    def _unit(self, unit: str) -> str:
        if unit.upper() not in _UNITS:
            self._fail(f"date unit {unit!r} is not supported")
        return unit.upper()

    def _fail(self, message: str) -> datetime:
        raise UnsupportedDefinitionError(f"{self.where}: rolling date {self.expression!r}: {message}")


_UNITS = {"YYYY", "Q", "MM", "WK", "DD", "HH", "MI", "SS"}


def _truncate(moment: datetime, unit: str) -> datetime:
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "YYYY":
        return day.replace(month=1, day=1)
    if unit == "Q":
        return day.replace(month=(moment.month - 1) // 3 * 3 + 1, day=1)
    if unit == "MM":
        return day.replace(day=1)
    if unit == "WK":  # QuickSight weeks start on Sunday
        return day - timedelta(days=(moment.weekday() + 1) % 7)
    if unit == "DD":
        return day
    if unit == "HH":
        return moment.replace(minute=0, second=0, microsecond=0)
    if unit == "MI":
        return moment.replace(second=0, microsecond=0)
    return moment.replace(microsecond=0)


def _add(moment: datetime, amount: int, unit: str) -> datetime:
    months = {"YYYY": 12, "Q": 3, "MM": 1}.get(unit)
    if months is not None:
        index = moment.year * 12 + moment.month - 1 + amount * months
        year, month = divmod(index, 12)
        return moment.replace(year=year, month=month + 1, day=min(moment.day, calendar.monthrange(year, month + 1)[1]))
    seconds = {"WK": 604800, "DD": 86400, "HH": 3600, "MI": 60, "SS": 1}[unit]
    return moment + timedelta(seconds=amount * seconds)
