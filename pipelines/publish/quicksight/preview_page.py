"""The preview as one self-contained HTML page: sheets, grid, visuals, KPI comparisons, tables and plotly's JS inlined once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from html import escape
from typing import Any

import pyarrow as pa
from plotly.offline import get_plotlyjs  # plotly.js itself (the figures are its JSON: preview_charts.py)

from pipelines.publish.quicksight.preview_charts import (
    ROW_PX,
    Figure,
    bar_figure,
    figure_json,
    format_value,
    line_figure,
    sparkline_figure,
)
from pipelines.publish.quicksight.preview_filters import FilterRule
from pipelines.publish.quicksight.preview_model import Field, Sheet, Visual
from pipelines.publish.quicksight.preview_sql import TABLE_ROWS

# First script of the page: errors, failed loads and console.error calls land in #preview-errors, so a
# headless browser's --dump-dom shows them (the browser test asserts it stays empty).
_ERROR_TRAP = """
window.previewErrors = [];
function previewRecord(message) {
  window.previewErrors.push(String(message));
  var box = document.getElementById('preview-errors');
  if (box) { box.textContent = window.previewErrors.join('\\n'); box.hidden = false; }
}
window.addEventListener('error', function (e) {
  var where = e.filename ? ' at ' + e.filename + ':' + e.lineno : (e.target && e.target.src ? ' loading ' + e.target.src : '');
  previewRecord('error: ' + (e.message || 'resource failed') + where);
}, true);
window.addEventListener('unhandledrejection', function (e) { previewRecord('unhandled rejection: ' + e.reason); });
(function () {
  var original = console.error;
  console.error = function () {
    previewRecord('console.error: ' + Array.prototype.join.call(arguments, ' '));
    return original.apply(console, arguments);
  };
})();
document.addEventListener('DOMContentLoaded', function () { if (window.previewErrors.length) previewRecord('(earlier errors above)'); });
"""
# Last script: draw every figure; data-plots-rendered on <body> counts those plotly finished.
_DRAW = """
(function () {
  var config = {displaylogo: false, responsive: true, displayModeBar: false};
  var nodes = document.querySelectorAll('script[data-figure]');
  var drawn = 0;
  var pending = Array.prototype.map.call(nodes, function (node) {
    var target = document.getElementById(node.getAttribute('data-figure'));
    try {
      var figure = JSON.parse(node.textContent);
      return Plotly.newPlot(target, figure.data, figure.layout, config).then(
        function () { drawn += 1; },
        function (e) { console.error('chart ' + target.id + ': ' + e); });
    } catch (e) { console.error('chart ' + node.getAttribute('data-figure') + ': ' + e); return null; }
  });
  Promise.all(pending).then(function () { document.body.setAttribute('data-plots-rendered', String(drawn)); });
})();
"""
_CSS = """
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.4 Helvetica, Arial, sans-serif; color: #222; background: #f2f3f5; }
header { background: #232f3e; color: #fff; padding: 14px 20px 0; position: sticky; top: 0; z-index: 10; }
header h1 { margin: 0 0 2px; font-size: 20px; font-weight: 600; }
header p { margin: 0 0 10px; color: #c8cdd3; font-size: 12px; }
nav a { display: inline-block; color: #fff; text-decoration: none; padding: 6px 14px; margin-right: 2px;
        border-radius: 4px 4px 0 0; background: #37475a; }
nav a:hover { background: #4a5d75; }
main { max-width: 1600px; margin: 0 auto; padding: 4px 16px 40px; }
section.sheet { scroll-margin-top: 96px; }
section.sheet h2 { font-size: 17px; margin: 22px 0 6px; }
.controls { display: flex; flex-wrap: wrap; gap: 8px; margin-bottom: 10px; }
.control { background: #fff; border: 1px solid #d5dbe1; border-radius: 4px; padding: 4px 10px; }
.control b { color: #555; font-weight: 600; margin-right: 4px; }
.grid { display: grid; grid-template-columns: repeat(36, minmax(0, 1fr)); gap: 10px; align-items: stretch; }
.visual { background: #fff; border: 1px solid #d5dbe1; border-radius: 4px; padding: 8px 10px; min-width: 0; }
.visual h3 { margin: 0; font-size: 14px; font-weight: 600; }
.visual .subtitle { margin: 0; color: #666; font-size: 12px; }
.visual .note { margin: 2px 0 0; color: #8a6d00; font-size: 11px; }
.chart { width: 100%; }
.kpi-value { font-size: 26px; font-weight: 600; margin: 8px 0 0; white-space: nowrap; }
.kpi-change { font-size: 13px; white-space: nowrap; }
.kpi-change.up { color: #1d8102; } .kpi-change.down { color: #d13212; } .kpi-change.flat { color: #666; }
.kpi-days { color: #777; font-size: 11px; white-space: nowrap; }
.no-data { color: #888; text-align: center; padding: 30px 0; font-size: 14px; }
.table-wrap { overflow: auto; margin-top: 6px; }
table { border-collapse: collapse; width: 100%; font-size: 12px; }
th, td { padding: 3px 8px; border-bottom: 1px solid #eceff2; text-align: left; white-space: nowrap; }
th { background: #f7f8fa; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
details { margin-top: 4px; font-size: 11px; color: #555; }
details summary { cursor: pointer; }
details pre { white-space: pre-wrap; background: #f7f8fa; padding: 6px; margin: 4px 0 0; }
details .table-wrap { max-height: 260px; }
#preview-errors { background: #fde8e8; color: #900; padding: 8px 16px; margin: 0; }
footer { color: #777; font-size: 11px; text-align: center; padding: 12px; }
"""


@dataclass(frozen=True)
class Drawn:
    """One visual with its query and its rows."""

    visual: Visual
    sql: str
    table: pa.Table


def page_html(
    title: str, sheets: Sequence[Sheet], drawn: Mapping[str, Drawn], filters: Sequence[FilterRule], now: datetime
) -> str:
    figures: dict[str, Figure] = {}
    sections = [_sheet(sheet, drawn, filters, figures) for sheet in sheets]
    nav = "".join(f'<a href="#sheet-{escape(s.sheet_id)}">{escape(s.name)}</a>' for s in sheets)
    scripts = "".join(
        f'<script type="application/json" data-figure="{escape(div)}">{figure_json(figure)}</script>\n'
        for div, figure in figures.items()
    )
    stamp = now.strftime("%Y-%m-%d %H:%M %Z").strip()
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)}</title>
<script>{_ERROR_TRAP}</script>
<style>{_CSS}</style>
<script>{get_plotlyjs()}</script>
</head>
<body data-plots-expected="{len(figures)}">
<pre id="preview-errors" hidden></pre>
<header><h1>{escape(title)}</h1>
<p>Preview of the QuickSight analysis definition with the lake's data; rolling dates evaluated at {escape(stamp)}.
Controls are shown as the filter in effect.</p>
<nav>{nav}</nav></header>
<main>
{"".join(sections)}
</main>
<footer>Rendered offline by <code>mlmon quicksight preview</code>: {len(drawn)} visuals on {len(sheets)} sheets.</footer>
{scripts}<script>{_DRAW}</script>
</body>
</html>
"""


def _sheet(sheet: Sheet, drawn: Mapping[str, Drawn], filters: Sequence[FilterRule], figures: dict[str, Figure]) -> str:
    by_id = {rule.filter_id: rule for rule in filters}
    controls = []
    shown = set()
    for control in sheet.controls:
        rule = by_id.get(str(control["SourceFilterId"]))
        if rule is None or sheet.sheet_id not in rule.scope:
            continue
        shown.add(rule.filter_id)
        controls.append(_control(str(control["Title"]) or rule.column, rule))
    for rule in filters:  # sheet-wide filters without a control are still in effect
        if rule.filter_id not in shown and rule.scope.get(sheet.sheet_id, ()) is None and sheet.sheet_id in rule.scope:
            controls.append(_control(rule.column, rule))
    visuals = "".join(_visual(drawn[v.visual_id], filters, figures) for v in sheet.visuals)
    return (
        f'<section class="sheet" id="sheet-{escape(sheet.sheet_id)}" data-sheet-id="{escape(sheet.sheet_id)}">'
        f'<h2>{escape(sheet.name)}</h2><div class="controls">{"".join(controls)}</div><div class="grid">{visuals}</div></section>\n'
    )


def _control(title: str, rule: FilterRule) -> str:
    text = rule.describe(title if rule.dates is None else "")
    hint = f" (rolling: {rule.expressions[0]} .. {rule.expressions[1]})" if rule.dates is not None else ""
    return f'<div class="control" data-filter-id="{escape(rule.filter_id)}" title="{escape(hint.strip())}"><b>{escape(title)}:</b>{escape(text)}</div>'


def _visual(item: Drawn, filters: Sequence[FilterRule], figures: dict[str, Figure]) -> str:
    visual = item.visual
    rows = [{key: _plain(value) for key, value in row.items()} for row in item.table.to_pylist()]
    notes = [
        f"Filter: {rule.column} = {rule.describe()}"
        for rule in filters
        if rule.visual_scoped and visual.visual_id in (rule.scope.get(visual.sheet_id) or ())
    ]
    notes += [f"Not drawn: {key}" for key in visual.not_drawn]
    attributes: dict[str, str] = {}
    if not rows:
        body = '<p class="no-data">No data</p>'
    elif visual.kind == "KPIVisual":
        body, attributes = _kpi(visual, rows, figures)
    elif visual.kind == "TableVisual":
        body = _table(visual, rows, cut=len(rows) > TABLE_ROWS)
    else:
        chart = f"chart-{visual.visual_id}"
        figures[chart] = line_figure(visual, rows) if visual.kind == "LineChartVisual" else bar_figure(visual, rows)
        height = visual.row_span * ROW_PX
        body = f'<div class="chart" id="{escape(chart)}" style="height:{height}px"></div>' + _details_data(visual, rows)
    extra = "".join(f' data-{key}="{escape(value)}"' for key, value in attributes.items())
    subtitle = f'<p class="subtitle">{escape(visual.subtitle)}</p>' if visual.subtitle else ""
    note_html = "".join(f'<p class="note">{escape(n)}</p>' for n in notes)
    sql = f"<details class='sql'><summary>SQL</summary><pre>{escape(item.sql)}</pre></details>"
    return (
        f'<div class="visual" id="visual-{escape(visual.visual_id)}" data-visual-id="{escape(visual.visual_id)}" '
        f'data-kind="{escape(visual.kind)}" data-rows="{len(rows)}"{extra} style="grid-column: span {visual.column_span}">'
        f"<h3>{escape(visual.title)}</h3>{subtitle}{note_html}{body}{sql}</div>"
    )


def _kpi(visual: Visual, rows: list[dict[str, Any]], figures: dict[str, Figure]) -> tuple[str, dict[str, str]]:
    """The last day of the trend group, compared with the day before it (the previous row of the group)."""
    options = visual.options.get("KPIOptions", {})
    field = visual.values[0]
    rows = sorted(rows, key=lambda r: str(r["c0"]))
    last = rows[-1]
    previous = rows[-2] if len(rows) > 1 else None
    value, before = last["m0"], previous["m0"] if previous else None
    method = options.get("Comparison", {}).get("ComparisonMethod", "PERCENT_DIFFERENCE")
    change = _compare(value, before, method)
    days = _day(last["c0"]) + (f" vs {_day(previous['c0'])}" if previous else ", no day before")
    if change is None:
        trend, comparison = "flat", "no comparison"
    else:
        pivot = 1.0 if method == "PERCENT" else 0.0
        trend = "up" if change > pivot else "down" if change < pivot else "flat"
        shown = format_value(change, field) if method == "DIFFERENCE" else f"{change * 100:+,.2f}%"
        comparison = {"up": "▲", "down": "▼", "flat": "■"}[trend] + " " + shown
    primary = format_value(value, field)
    if options.get("PrimaryValueDisplayType") == "COMPARISON" and change is not None:
        primary = f"{change * 100:+,.2f}%" if method != "DIFFERENCE" else format_value(change, field)
    html = (
        f'<div class="kpi-value">{escape(primary)}</div><div class="kpi-change {trend}">{escape(comparison)}</div>'
        f'<div class="kpi-days">{escape(days)}</div>'
    )
    sparkline = options.get("Sparkline", {})
    if sparkline.get("Visibility") == "VISIBLE":
        chart = f"chart-{visual.visual_id}"
        height = max(48, visual.row_span * ROW_PX - 120)
        figures[chart] = sparkline_figure(rows, field, height, area=sparkline.get("Type") == "AREA")
        html += f'<div class="chart sparkline" id="{escape(chart)}" style="height:{height}px"></div>'
    attributes = {"value": repr(value), "previous": repr(before), "change": repr(change), "day": str(last["c0"])}
    return html, attributes


def _day(value: Any) -> str:
    """'2026-11-24' -> 'Nov 24' (other values as they are)."""
    try:
        return date.fromisoformat(str(value)).strftime("%b %d")
    except ValueError:
        return str(value)


def _plain(value: Any) -> Any:
    """DuckDB sums bigints as HUGEINT (a Decimal in Python), Athena as bigint: both drawn as numbers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _compare(value: Any, before: Any, method: str) -> float | None:
    if value is None or before is None:
        return None
    if method == "DIFFERENCE":
        return float(value) - float(before)
    if float(before) == 0:
        return None
    return float(value) / float(before) if method == "PERCENT" else (float(value) - float(before)) / abs(float(before))


def _table(visual: Visual, rows: list[dict[str, Any]], *, cut: bool, height: int | None = None) -> str:
    columns = [(f"c{i}", f) for i, f in enumerate(visual.category)] + [(f"k{i}", f) for i, f in enumerate(visual.colors)]
    columns += [(f"m{i}", f) for i, f in enumerate(visual.values)]
    head = "".join(f"<th>{escape(field.label)}</th>" for _, field in columns)
    body = "".join("<tr>" + "".join(_cell(row[alias], field) for alias, field in columns) + "</tr>" for row in rows[:TABLE_ROWS])
    limit = height or visual.row_span * ROW_PX
    note = f'<p class="note">First {TABLE_ROWS} rows shown.</p>' if cut else ""
    return f'<div class="table-wrap" style="max-height:{limit}px"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>{note}'


def _cell(value: Any, field: Field) -> str:
    numeric = field.role == "measure" and isinstance(value, int | float) and not isinstance(value, bool)
    return f"<td{' class=num' if numeric else ''}>{escape(format_value(value, field))}</td>"


def _details_data(visual: Visual, rows: list[dict[str, Any]]) -> str:
    """The chart's rows as a table, folded (what QuickSight's 'export to CSV' would give)."""
    return (
        f"<details class='data'><summary>Data ({len(rows)} rows)</summary>{_table(visual, rows, cut=False, height=260)}</details>"
    )
