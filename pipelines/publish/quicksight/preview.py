"""`mlmon quicksight preview`: the dashboard's definition drawn with the lake's data as one offline HTML page."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
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
from pipelines.query.engine import QueryEngine, QueryReader

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
# Visual queries in flight at once: every engine runs a query on its own (a DuckDB connection each, or an Athena
# execution), and DuckDB's work is outside the GIL; four keep two cores busy and stay far under Athena's quota.
PARALLEL_QUERIES = 4


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
    for visual in visuals:
        if visual.dataset not in datasets:
            raise PreviewError(f"visual {visual.visual_id}: dataset {visual.dataset} is not declared in the analysis")
    used = list(dict.fromkeys(visual.dataset for visual in visuals))
    # One reading of the lake for every query: a consistent page, and a local lake opened once, not once per visual.
    with engine.reading() as reader, ThreadPoolExecutor(PARALLEL_QUERIES, thread_name_prefix="preview") as pool:
        # map yields in order: the first dataset or visual that fails is the one reported, as when run one by one
        columns = dict(zip(used, pool.map(lambda identifier: _columns(reader, datasets[identifier]), used), strict=True))
        sources = {
            identifier: Source(
                datasets[identifier],
                columns[identifier],
                {name: ratio for (owner, name), ratio in ratios.items() if owner == identifier},
            )
            for identifier in used
        }
        planned = [(visual, visual_sql(visual, sources[visual.dataset], filters)) for visual in visuals]
        tables = pool.map(lambda item: _run(reader, *item), planned)
        drawn = {visual.visual_id: Drawn(visual, sql, table) for (visual, sql), table in zip(planned, tables, strict=True)}
    return PreviewResult(sheets, drawn, filters)


def _columns(engine: QueryReader, dataset: Dataset) -> dict[str, pa.DataType]:
    try:
        schema = engine.run(probe_sql(dataset)).schema
    except FatalError as error:
        raise MissingViewError(
            f"dataset {dataset.identifier} ({dataset.dataset_id}): cannot read view {dataset.relation} in the lake "
            f"(missing, or not published yet): {error}"
        ) from error
    return {field.name: field.type for field in schema}


def _run(engine: QueryReader, visual: Visual, sql: str) -> pa.Table:
    try:
        return engine.run(sql)
    except FatalError as error:
        raise PreviewError(f"visual {visual.visual_id} (sheet {visual.sheet_id}, dataset {visual.dataset}): {error}") from error
