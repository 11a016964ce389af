"""`mlmon quicksight preview`: the dashboard's definition drawn with the lake's data as one offline HTML page."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipelines.errors import FatalError
from pipelines.publish.quicksight.preview_filters import FilterRule, read_filters
from pipelines.publish.quicksight.preview_model import (
    CalculatedFieldError,
    Dataset,
    MissingViewError,
    PreviewError,
    Sheet,
    UnsupportedDefinitionError,
    Visual,
    calculated_fields,
    load_datasets,
    read_sheets,
)
from pipelines.publish.quicksight.preview_page import Drawn, page_html
from pipelines.publish.quicksight.preview_sql import Source, probe_sql, visual_sql
from pipelines.query.engine import QueryEngine

__all__ = [
    "CalculatedFieldError",
    "MissingViewError",
    "PreviewError",
    "PreviewResult",
    "UnsupportedDefinitionError",
    "preview_queries",
    "render_preview",
]

PAGE_NAME = "dashboard.html"


@dataclass(frozen=True)
class PreviewResult:
    """Every visual's query and rows, before drawing (what the page shows, for tests and callers)."""

    sheets: list[Sheet]
    visuals: dict[str, Drawn]
    filters: list[FilterRule]


def render_preview(analysis: Mapping[str, Any], directory: Path, engine: QueryEngine, out: Path, *, now: datetime) -> Path:
    """Write out/dashboard.html (create `out` if missing); return its path.

    `analysis` is quicksight/analysis.json as loaded (placeholders may remain), `directory` the quicksight/
    folder holding datasets/*.json, `now` the moment rolling dates are evaluated against. One query per
    dataset reads its view's columns (a missing view fails here, naming the dataset), then one per visual.
    """
    result = preview_queries(analysis, directory, engine, now=now)
    definition = analysis["Definition"]
    sheets = read_sheets(definition, calculated_fields(definition))
    html = page_html(
        str(analysis.get("Name") or "ML performance and business impact"), sheets, result.visuals, result.filters, now
    )
    out.mkdir(parents=True, exist_ok=True)
    path = out / PAGE_NAME
    path.write_text(html, encoding="utf-8")
    return path


def preview_queries(analysis: Mapping[str, Any], directory: Path, engine: QueryEngine, *, now: datetime) -> PreviewResult:
    """Run every visual's query; unsupported definitions fail before any visual query runs."""
    definition = analysis["Definition"]
    ratios = calculated_fields(definition)
    sheets = read_sheets(definition, ratios)
    filters = read_filters(definition, now)
    datasets = load_datasets(analysis, directory)
    visuals = [visual for sheet in sheets for visual in sheet.visuals]
    sources: dict[str, Source] = {}
    for visual in visuals:
        if visual.dataset not in datasets:
            raise PreviewError(f"visual {visual.visual_id}: dataset {visual.dataset} is not declared in the analysis")
        if visual.dataset not in sources:
            dataset = datasets[visual.dataset]
            own = {name: ratio for (identifier, name), ratio in ratios.items() if identifier == visual.dataset}
            sources[visual.dataset] = Source(dataset, _columns(engine, dataset), own)
    planned = {visual.visual_id: (visual, visual_sql(visual, sources[visual.dataset], filters)) for visual in visuals}
    drawn = {}
    for visual_id, (visual, sql) in planned.items():
        drawn[visual_id] = Drawn(visual, sql, _run(engine, visual, sql))
    return PreviewResult(sheets, drawn, filters)


def _columns(engine: QueryEngine, dataset: Dataset) -> dict[str, pa.DataType]:
    try:
        schema = engine.run(probe_sql(dataset)).schema
    except FatalError as error:
        raise MissingViewError(
            f"dataset {dataset.identifier} ({dataset.dataset_id}): cannot read view {dataset.relation} in the lake "
            f"(missing, or not published yet): {error}"
        ) from error
    return {field.name: field.type for field in schema}


def _run(engine: QueryEngine, visual: Visual, sql: str) -> pa.Table:
    try:
        return engine.run(sql)
    except FatalError as error:
        raise PreviewError(f"visual {visual.visual_id} (sheet {visual.sheet_id}, dataset {visual.dataset}): {error}") from error
