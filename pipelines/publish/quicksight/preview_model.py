"""The parts of a QuickSight analysis the preview draws, read into typed specs, so what it cannot draw fails by name."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.errors import FatalError

AGGREGATIONS = {
    "SUM": "Sum",
    "AVERAGE": "Average",
    "MIN": "Min",
    "MAX": "Max",
    "COUNT": "Count",
    "DISTINCT_COUNT": "Count distinct",
}
_RATIO = re.compile(r"^\s*sum\(\s*\{([^{}]+)\}\s*\)\s*/\s*sum\(\s*\{([^{}]+)\}\s*\)\s*$", re.IGNORECASE)
_ARN_DATASET = re.compile(r"dataset/([^/]+)$")
# ChartConfiguration keys that only style a chart: the preview draws its own defaults for them.
_COSMETIC = {
    "Legend",
    "DataLabels",
    "Tooltip",
    "VisualPalette",
    "XAxisDisplayOptions",
    "PrimaryYAxisDisplayOptions",
    "CategoryAxis",
    "ValueAxis",
    "CategoryLabelOptions",
    "ValueLabelOptions",
    "ColorLabelOptions",
    "XAxisLabelOptions",
    "PrimaryYAxisLabelOptions",
    "Interactions",
    "TableOptions",
    "FieldOptions",
    "Type",
}
# Per visual kind: its field wells key (None: the wells sit directly in FieldWells), its wells in our roles,
# the ChartConfiguration keys the preview honours, and the SortConfiguration keys it honours.
_KINDS: dict[str, tuple[str | None, dict[str, str], set[str], set[str]]] = {
    "KPIVisual": (None, {"TrendGroups": "category", "Values": "values"}, {"KPIOptions"}, set()),
    "LineChartVisual": (
        "LineChartAggregatedFieldWells",
        {"Category": "category", "Values": "values", "Colors": "colors"},
        set(),
        set(),
    ),
    "BarChartVisual": (
        "BarChartAggregatedFieldWells",
        {"Category": "category", "Values": "values", "Colors": "colors"},
        {"Orientation", "BarsArrangement"},
        {"CategorySort", "CategoryItemsLimit"},
    ),
    "TableVisual": ("TableAggregatedFieldWells", {"GroupBy": "category", "Values": "values"}, set(), {"RowSort"}),
}


class PreviewError(FatalError):
    """The dashboard cannot be previewed; the message names the visual, dataset or field."""


class UnsupportedDefinitionError(PreviewError):
    """A visual kind, field well, aggregation, sort or filter the preview cannot draw faithfully."""


class CalculatedFieldError(UnsupportedDefinitionError):
    """A calculated field other than sum({a}) / sum({b})."""


class MissingViewError(PreviewError):
    """A dataset's view (or table) cannot be read in the lake."""


@dataclass(frozen=True)
class Dataset:
    """One dataset file: the view it reads and the column casts of its logical table."""

    identifier: str  # the analysis's DataSetIdentifier
    dataset_id: str
    relation: str  # PhysicalTableMap.<x>.RelationalTable.Name
    casts: Mapping[str, tuple[str, str | None]]  # column -> (NewColumnType, Format)


@dataclass(frozen=True)
class Ratio:
    """A calculated field of the one supported form: sum({numerator}) / sum({denominator})."""

    name: str
    numerator: str
    denominator: str


@dataclass(frozen=True)
class NumberFormat:
    kind: str  # "currency" | "percent" | "number"
    decimals: int | None
    symbol: str = ""


@dataclass(frozen=True)
class Field:
    """A field of a visual's wells: a dimension (category/date) or a measure (aggregated)."""

    field_id: str
    column: str
    role: str  # "category" | "date" | "measure"
    aggregation: str | None = None  # a key of AGGREGATIONS; None for dimensions and calculated ratios
    granularity: str = "DAY"
    number_format: NumberFormat | None = None

    @property
    def label(self) -> str:
        if self.aggregation is None:
            return self.column
        return f"{self.column} ({AGGREGATIONS[self.aggregation]})"


@dataclass(frozen=True)
class Visual:
    """One visual: its wells in preview roles (category = x axis, bar categories, table group-by or KPI trend)."""

    visual_id: str
    kind: str
    sheet_id: str
    dataset: str
    title: str
    subtitle: str
    category: tuple[Field, ...]
    colors: tuple[Field, ...]
    values: tuple[Field, ...]
    sort: tuple[tuple[str, bool], ...]  # (field id, descending)
    items_limit: int | None
    options: Mapping[str, Any]  # the ChartConfiguration, for drawing options
    not_drawn: tuple[str, ...]  # ChartConfiguration keys the preview ignores
    column_span: int = 18
    row_span: int = 10

    @property
    def fields(self) -> tuple[Field, ...]:
        return self.category + self.colors + self.values


@dataclass(frozen=True)
class Sheet:
    sheet_id: str
    name: str
    visuals: tuple[Visual, ...]
    controls: tuple[Mapping[str, Any], ...]  # each {"Title": ..., "SourceFilterId": ..., "Kind": ...}


def load_datasets(analysis: Mapping[str, Any], directory: Path) -> dict[str, Dataset]:
    """The declared datasets by DataSetIdentifier, each from the datasets/*.json whose DataSetId its ARN names."""
    files: dict[str, Mapping[str, Any]] = {}
    for path in sorted((directory / "datasets").glob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        files[str(body.get("DataSetId"))] = body
    found = {}
    for declaration in analysis["Definition"].get("DataSetIdentifierDeclarations", []):
        identifier = declaration["Identifier"]
        match = _ARN_DATASET.search(str(declaration.get("DataSetArn", "")))
        if match is None or match.group(1) not in files:
            wanted = match.group(1) if match else declaration.get("DataSetArn")
            raise PreviewError(f"dataset {identifier}: no file in {directory / 'datasets'} has DataSetId {wanted}")
        found[identifier] = _dataset(identifier, files[match.group(1)])
    return found


def _dataset(identifier: str, body: Mapping[str, Any]) -> Dataset:
    dataset_id = str(body["DataSetId"])
    tables = list(body.get("PhysicalTableMap", {}).values())
    if len(tables) != 1 or "RelationalTable" not in tables[0]:
        raise UnsupportedDefinitionError(f"dataset {identifier} ({dataset_id}): the preview reads exactly one RelationalTable")
    casts: dict[str, tuple[str, str | None]] = {}
    for logical in body.get("LogicalTableMap", {}).values():
        for transform in logical.get("DataTransforms", []):
            kind, spec = next(iter(transform.items()))
            if kind == "CastColumnTypeOperation":
                casts[spec["ColumnName"]] = (spec["NewColumnType"], spec.get("Format"))
            elif kind != "TagColumnOperation":
                raise UnsupportedDefinitionError(f"dataset {identifier} ({dataset_id}): data transform {kind} is not supported")
    return Dataset(identifier, dataset_id, str(tables[0]["RelationalTable"]["Name"]), casts)


def calculated_fields(definition: Mapping[str, Any]) -> dict[tuple[str, str], Ratio]:
    """{(dataset identifier, name): Ratio}; any other expression raises, naming the field."""
    ratios = {}
    for spec in definition.get("CalculatedFields", []):
        match = _RATIO.match(spec["Expression"])
        if match is None:
            raise CalculatedFieldError(
                f"calculated field {spec['Name']} ({spec['DataSetIdentifier']}): the preview supports only "
                f"sum({{a}}) / sum({{b}}), not {spec['Expression']!r}"
            )
        ratios[(spec["DataSetIdentifier"], spec["Name"])] = Ratio(spec["Name"], match.group(1), match.group(2))
    return ratios


def read_sheets(definition: Mapping[str, Any], ratios: Mapping[tuple[str, str], Ratio]) -> list[Sheet]:
    sheets = []
    for sheet in definition.get("Sheets", []):
        spans = dict(_grid_spans(sheet))
        visuals = tuple(_visual(sheet["SheetId"], entry, ratios, spans) for entry in sheet.get("Visuals", []))
        controls = tuple(
            {"Kind": kind, "Title": spec.get("Title", ""), "SourceFilterId": spec.get("SourceFilterId")}
            for control in sheet.get("FilterControls", [])
            for kind, spec in control.items()
        )
        sheets.append(Sheet(sheet["SheetId"], sheet.get("Name", sheet["SheetId"]), visuals, controls))
    return sheets


def _grid_spans(sheet: Mapping[str, Any]) -> Iterator[tuple[str, tuple[int, int]]]:
    for layout in sheet.get("Layouts", []):
        for element in layout.get("Configuration", {}).get("GridLayout", {}).get("Elements", []):
            yield element["ElementId"], (int(element.get("ColumnSpan", 18)), int(element.get("RowSpan", 10)))


def _visual(
    sheet_id: str, entry: Mapping[str, Any], ratios: Mapping[tuple[str, str], Ratio], spans: Mapping[str, tuple[int, int]]
) -> Visual:
    kind, spec = next(iter(entry.items()))
    visual_id = str(spec.get("VisualId", "?"))
    where = f"visual {visual_id} (sheet {sheet_id})"
    if kind not in _KINDS:
        raise UnsupportedDefinitionError(f"{where}: {kind} is not supported by the preview (only {', '.join(_KINDS)})")
    wells_key, roles, honoured, sorts = _KINDS[kind]
    config = spec.get("ChartConfiguration", {})
    wells = config.get("FieldWells", {})
    if wells_key is not None:
        if set(wells) - {wells_key}:
            raise UnsupportedDefinitionError(f"{where}: field wells {sorted(set(wells) - {wells_key})} are not supported")
        wells = wells.get(wells_key, {})
    if set(wells) - set(roles):
        raise UnsupportedDefinitionError(f"{where}: field wells {sorted(set(wells) - set(roles))} are not supported")
    fields: dict[str, list[Field]] = {"category": [], "colors": [], "values": []}
    for well, role in roles.items():
        fields[role] += [_field(where, item, ratios) for item in wells.get(well, [])]
    datasets = {_dataset_of(item) for well in roles for item in wells.get(well, [])}
    if len(datasets) != 1:
        raise UnsupportedDefinitionError(f"{where}: a visual reads exactly one dataset, this one reads {sorted(datasets)}")
    sort, limit = _sort(where, config.get("SortConfiguration", {}), sorts)
    column_span, row_span = spans.get(visual_id, (18, 10))
    return Visual(
        visual_id=visual_id,
        kind=kind,
        sheet_id=sheet_id,
        dataset=datasets.pop(),
        title=_text(spec.get("Title")) or _default_title(fields),
        subtitle=_text(spec.get("Subtitle")),
        category=tuple(fields["category"]),
        colors=tuple(fields["colors"]),
        values=tuple(fields["values"]),
        sort=sort,
        items_limit=limit,
        options=config,
        not_drawn=tuple(sorted(set(config) - honoured - _COSMETIC - {"FieldWells", "SortConfiguration"})),
        column_span=column_span,
        row_span=row_span,
    )


def _dataset_of(item: Mapping[str, Any]) -> str:
    return str(next(iter(item.values()))["Column"]["DataSetIdentifier"])


def _field(where: str, item: Mapping[str, Any], ratios: Mapping[tuple[str, str], Ratio]) -> Field:
    kind, spec = next(iter(item.items()))
    field_id, column = str(spec["FieldId"]), str(spec["Column"]["ColumnName"])
    if kind in ("CategoricalDimensionField", "NumericalDimensionField"):
        return Field(field_id, column, "category")
    if kind == "DateDimensionField":
        return Field(field_id, column, "date", granularity=spec.get("DateGranularity", "DAY"))
    aggregation = spec.get("AggregationFunction")
    if isinstance(aggregation, Mapping):
        if set(aggregation) != {"SimpleNumericalAggregation"}:
            raise UnsupportedDefinitionError(f"{where}: field {field_id}: aggregation {sorted(aggregation)} is not supported")
        aggregation = aggregation["SimpleNumericalAggregation"]
    if kind not in ("NumericalMeasureField", "DateMeasureField", "CategoricalMeasureField"):
        raise UnsupportedDefinitionError(f"{where}: field {field_id}: {kind} is not supported")
    calculated = (str(spec["Column"]["DataSetIdentifier"]), column) in ratios
    if calculated and aggregation is not None:
        raise UnsupportedDefinitionError(f"{where}: field {field_id}: calculated field {column} is already aggregated")
    if not calculated:
        aggregation = aggregation or ("SUM" if kind == "NumericalMeasureField" else "COUNT")
        if aggregation not in AGGREGATIONS:
            raise UnsupportedDefinitionError(f"{where}: field {field_id}: aggregation {aggregation} is not supported")
    number_format = _number_format(spec.get("FormatConfiguration", {}).get("FormatConfiguration", {}))
    return Field(field_id, column, "measure", aggregation=aggregation, number_format=number_format)


def _number_format(spec: Mapping[str, Any]) -> NumberFormat | None:
    for key, kind in (
        ("CurrencyDisplayFormatConfiguration", "currency"),
        ("PercentageDisplayFormatConfiguration", "percent"),
        ("NumberDisplayFormatConfiguration", "number"),
    ):
        if key in spec:
            decimals = spec[key].get("DecimalPlacesConfiguration", {}).get("DecimalPlaces")
            return NumberFormat(kind, None if decimals is None else int(decimals), str(spec[key].get("Symbol", "")))
    return None


def _sort(where: str, config: Mapping[str, Any], honoured: set[str]) -> tuple[tuple[tuple[str, bool], ...], int | None]:
    if set(config) - honoured:
        raise UnsupportedDefinitionError(f"{where}: sort options {sorted(set(config) - honoured)} are not supported")
    sort = []
    for option in config.get("CategorySort", []) + config.get("RowSort", []):
        if set(option) != {"FieldSort"}:
            raise UnsupportedDefinitionError(f"{where}: only FieldSort sorts are supported, not {sorted(option)}")
        sort.append((str(option["FieldSort"]["FieldId"]), option["FieldSort"].get("Direction", "ASC") == "DESC"))
    limit = config.get("CategoryItemsLimit", {})
    if limit.get("OtherCategories", "EXCLUDE") != "EXCLUDE":
        raise UnsupportedDefinitionError(f"{where}: an 'other' bucket (OtherCategories INCLUDE) is not supported")
    items = limit.get("ItemsLimit")
    return tuple(sort), None if items is None else int(items)


def _text(label: Mapping[str, Any] | None) -> str:
    if not label or label.get("Visibility", "VISIBLE") != "VISIBLE":
        return ""
    text = label.get("FormatText", {})
    return str(text.get("PlainText") or re.sub(r"<[^>]+>", "", str(text.get("RichText", "")))).strip()


def _default_title(fields: Mapping[str, list[Field]]) -> str:
    """QuickSight's own title when none is given: `<measures> by <dimensions>`."""
    measures = " and ".join(f.label for f in fields["values"])
    dimensions = " and ".join(f.column for f in fields["category"] + fields["colors"])
    return f"{measures} by {dimensions}" if dimensions else measures
