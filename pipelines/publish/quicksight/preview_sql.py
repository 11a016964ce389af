"""One Athena query per visual, built with sqlglot: the visual's wells, aggregations, filters, sort and top-N over its view."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa
from sqlglot import exp

from pipelines.publish.quicksight.preview_filters import FilterRule
from pipelines.publish.quicksight.preview_model import Dataset, Field, Ratio, UnsupportedDefinitionError, Visual

TABLE_ROWS = 1000  # a table visual shows at most this many rows (QuickSight pages them; a preview is one page)
_T = "t"  # the view's alias in every query
_AGGREGATE = {"SUM": exp.Sum, "AVERAGE": exp.Avg, "MIN": exp.Min, "MAX": exp.Max, "COUNT": exp.Count}
_SQL_TYPES = {"STRING": "VARCHAR", "INTEGER": "BIGINT", "DECIMAL": "DOUBLE"}


@dataclass(frozen=True)
class Source:
    """A dataset as the lake has it: its view's columns (from one probe) and its calculated fields."""

    dataset: Dataset
    columns: Mapping[str, pa.DataType]
    ratios: Mapping[str, Ratio]


def probe_sql(dataset: Dataset) -> str:
    """No rows, only the view's columns and types (and an error if the view is missing)."""
    return exp.select(exp.Star()).from_(_table(dataset)).limit(0).sql(dialect="athena")


def visual_sql(visual: Visual, source: Source, rules: Sequence[FilterRule]) -> str:
    """The visual's one query; output columns c0.. (category), k0.. (colors), m0.. (values) in well order."""
    dims = [(f"c{i}", f) for i, f in enumerate(visual.category)] + [(f"k{i}", f) for i, f in enumerate(visual.colors)]
    measures = [(f"m{i}", f) for i, f in enumerate(visual.values)]
    for _, field in dims + measures:
        if field.column not in source.columns and field.column not in source.ratios:
            raise UnsupportedDefinitionError(
                f"visual {visual.visual_id}: column {field.column} is not in {source.dataset.relation} (dataset {visual.dataset})"
            )
    condition = where(visual, source, rules)
    ranked = visual.kind == "BarChartVisual" and bool(visual.sort or visual.items_limit) and bool(visual.category)
    if ranked:
        return _ranked_bars(visual, source, dims, measures, condition).sql(dialect="athena", pretty=True)
    query = exp.select(*(exp.alias_(_dimension(f, source), a, quoted=True) for a, f in dims))
    query = query.select(*(exp.alias_(_measure(f, source), a, quoted=True) for a, f in measures))
    query = query.from_(_table(source.dataset))
    if condition is not None:
        query = query.where(condition)
    if dims:
        query = query.group_by(*(_dimension(f, source) for _, f in dims))
    aliases = {f.field_id: a for a, f in dims + measures}
    order = [_ordered(aliases, visual, field_id, desc) for field_id, desc in visual.sort]
    sorted_by = {field_id for field_id, _ in visual.sort}
    order += [exp.Ordered(this=_ref(a), desc=False) for a, f in dims if f.field_id not in sorted_by]
    if order:
        query = query.order_by(*order)
    if visual.kind == "TableVisual":
        query = query.limit(TABLE_ROWS + 1)  # one more tells the page the table was cut
    return query.sql(dialect="athena", pretty=True)


def _ranked_bars(
    visual: Visual, source: Source, dims: list[tuple[str, Field]], measures: list[tuple[str, Field]], condition: exp.Expr | None
) -> exp.Query:
    """Bars: rank the categories by the sort field over all colours, keep the top N, then break them down by colour."""
    category = visual.category[0]
    sort = visual.sort or ((category.field_id, False),)
    by_id = {f.field_id: f for f in visual.fields}
    keys = []
    for field_id, desc in sort:
        field = by_id.get(field_id)
        if field is None or field in visual.colors:
            raise UnsupportedDefinitionError(f"visual {visual.visual_id}: cannot sort categories by field {field_id}")
        value = _measure(field, source) if field.role == "measure" else _dimension(field, source)
        keys.append(exp.Ordered(this=value, desc=desc, nulls_first=False))
    keys.append(exp.Ordered(this=_dimension(category, source), desc=False, nulls_first=False))
    rank = exp.Window(this=exp.RowNumber(), order=exp.Order(expressions=keys))
    ranking = exp.select(exp.alias_(_dimension(category, source), "c0", quoted=True), exp.alias_(rank, "rank", quoted=True))
    ranking = ranking.from_(_table(source.dataset)).group_by(_dimension(category, source))
    if condition is not None:
        ranking = ranking.where(condition)
    rank_ref = exp.column("rank", table="ranked", quoted=True)
    joined = exp.NullSafeEQ(this=_dimension(category, source), expression=exp.column("c0", table="ranked", quoted=True))
    query = exp.select(*(exp.alias_(_dimension(f, source), a, quoted=True) for a, f in dims))
    query = query.select(
        *(exp.alias_(_measure(f, source), a, quoted=True) for a, f in measures), exp.alias_(rank_ref, "rank", quoted=True)
    )
    query = query.from_(_table(source.dataset)).join(exp.Table(this=exp.to_identifier("ranked", quoted=True)), on=joined)
    limit = exp.LTE(this=rank_ref, expression=exp.Literal.number(visual.items_limit)) if visual.items_limit else None
    filters = [c for c in (condition, limit) if c is not None]
    if filters:
        query = query.where(exp.and_(*filters))
    query = query.group_by(*(_dimension(f, source) for _, f in dims), rank_ref)
    query = query.order_by(_ref("rank"), *(exp.Ordered(this=_ref(a), desc=False) for a, _ in dims[1:]))
    return query.with_(exp.to_identifier("ranked", quoted=True), as_=ranking)


def where(visual: Visual, source: Source, rules: Sequence[FilterRule]) -> exp.Expr | None:
    """The conditions of every filter that applies to the visual (sheet/visual scope, dataset or same-named column)."""
    conditions = [_condition(rule, source) for rule in rules if rule.applies_to(visual, source.columns)]
    kept = [c for c in conditions if c is not None]
    return exp.and_(*kept) if kept else None


def _condition(rule: FilterRule, source: Source) -> exp.Expr | None:
    if rule.dates is not None:
        day = _date(rule.column, source, "DAY")
        parts: list[exp.Expr] = []
        if rule.dates.low is not None:
            parts.append(exp.GTE(this=day, expression=exp.Literal.string(rule.dates.low.isoformat())))
        if rule.dates.high is not None:
            parts.append(exp.LTE(this=day.copy(), expression=exp.Literal.string(rule.dates.high.isoformat())))
        return exp.and_(*parts) if parts else None
    column = _column(rule.column, source)
    nulls: exp.Expr | None = {
        "NON_NULLS_ONLY": exp.Not(this=exp.Is(this=column, expression=exp.Null())),
        "NULLS_ONLY": exp.Is(this=column.copy(), expression=exp.Null()),
    }.get(rule.null_option)
    if rule.values is None:
        return nulls
    listed: exp.Expr = exp.In(this=column.copy(), expressions=[exp.Literal.string(v) for v in rule.values])
    if rule.exclude:
        listed = exp.Not(this=listed)
    if rule.null_option == "ALL_VALUES":  # a blank is kept whatever the list says
        return exp.or_(exp.paren(listed), exp.Is(this=column.copy(), expression=exp.Null()))
    return listed if rule.null_option == "NON_NULLS_ONLY" else nulls  # IN / NOT IN never keep a blank


def _table(dataset: Dataset) -> exp.Table:
    return exp.Table(
        this=exp.to_identifier(dataset.relation, quoted=True), alias=exp.TableAlias(this=exp.to_identifier(_T, quoted=True))
    )


def _ref(alias: str) -> exp.Column:
    return exp.column(alias, quoted=True)


def _ordered(aliases: Mapping[str, str], visual: Visual, field_id: str, desc: bool) -> exp.Ordered:
    if field_id not in aliases:
        raise UnsupportedDefinitionError(f"visual {visual.visual_id}: sort field {field_id} is not one of its fields")
    return exp.Ordered(this=_ref(aliases[field_id]), desc=desc, nulls_first=False)


def _column(name: str, source: Source) -> exp.Expr:
    """A column as the dataset types it: CastColumnTypeOperation to STRING/INTEGER/DECIMAL applied in SQL."""
    column = exp.column(name, table=_T, quoted=True)
    kind, _ = source.dataset.casts.get(name, ("", None))
    return exp.cast(column, _SQL_TYPES[kind]) if kind in _SQL_TYPES else column


def _date(name: str, source: Source, granularity: str) -> exp.Expr:
    """A DATETIME field as a 'YYYY-MM-DD' string at `granularity` (the lake's dt is already such a string)."""
    kind, pattern = source.dataset.casts.get(name, ("", None))
    column = exp.column(name, table=_T, quoted=True)
    arrow = source.columns.get(name)
    if arrow is not None and pa.types.is_string(arrow):
        if kind != "DATETIME" or pattern not in ("yyyy-MM-dd", None):
            raise UnsupportedDefinitionError(
                f"dataset {source.dataset.identifier}: date column {name} must be cast to DATETIME with format yyyy-MM-dd"
            )
        day: exp.Expr = column
    else:
        day = exp.cast(exp.cast(column, "DATE"), "VARCHAR")
    if granularity == "DAY":
        return day
    keep = {"MONTH": (7, "-01"), "YEAR": (4, "-01-01")}.get(granularity)
    if keep is None:
        raise UnsupportedDefinitionError(
            f"dataset {source.dataset.identifier}: date granularity {granularity} of {name} is not supported"
        )
    prefix = exp.func("substr", day, exp.Literal.number(1), exp.Literal.number(keep[0]))
    return exp.DPipe(this=prefix, expression=exp.Literal.string(keep[1]), safe=True)


def _dimension(field: Field, source: Source) -> exp.Expr:
    return _date(field.column, source, field.granularity) if field.role == "date" else _column(field.column, source)


def _measure(field: Field, source: Source) -> exp.Expr:
    ratio = source.ratios.get(field.column)
    if ratio is not None:
        # QuickSight divides as decimals (Athena would divide bigints as integers); x / 0 is blank.
        numerator = exp.cast(exp.Sum(this=_column(ratio.numerator, source)), "DOUBLE")
        denominator = exp.Nullif(this=exp.Sum(this=_column(ratio.denominator, source)), expression=exp.Literal.number(0))
        return exp.Div(this=numerator, expression=denominator)
    value = _date(field.column, source, "DAY") if _is_date(field.column, source) else _column(field.column, source)
    if field.aggregation == "DISTINCT_COUNT":
        return exp.Count(this=exp.Distinct(expressions=[value]))
    return _AGGREGATE[str(field.aggregation)](this=value)


def _is_date(name: str, source: Source) -> bool:
    kind, _ = source.dataset.casts.get(name, ("", None))
    arrow = source.columns.get(name)
    return kind == "DATETIME" or (arrow is not None and (pa.types.is_date(arrow) or pa.types.is_timestamp(arrow)))
