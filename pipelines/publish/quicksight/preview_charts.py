"""The preview's charts as plotly figures, and the numbers formatted as the definition asks (currency, percent).

A figure is the JSON plotly.js draws (`{"data": [traces], "layout": {...}}`), built as plain dicts: plotly's Python
objects would only validate and serialise them, ~0.8 of the ~4 CPU-s of `mlmon quicksight preview`. The browser
test (every chart drawn, no console error) checks what plotly.js makes of them."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import date, time
from decimal import Decimal
from typing import Any

from pipelines.publish.quicksight.preview_model import Field, NumberFormat, Visual

ROW_PX = 36  # one row of the QuickSight grid, in CSS pixels
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
_FONT = {"family": "Helvetica, Arial, sans-serif", "size": 11, "color": "#333"}
_COLORWAY = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

Row = Mapping[str, Any]
Figure = dict[str, Any]  # {"data": [trace, ...], "layout": {...}}; keys set to None are left out when drawn


def format_value(value: Any, field: Field | None = None) -> str:
    """A cell as QuickSight would show it: the field's currency/percent/number format, else a plain default."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float) or field is None or field.role != "measure":
        return str(value)
    fmt = field.number_format or NumberFormat("number", None)
    if fmt.kind == "percent":
        return f"{value * 100:,.{2 if fmt.decimals is None else fmt.decimals}f}%"
    text = _number(float(value), fmt.decimals)
    if fmt.kind == "currency":
        symbol = _SYMBOLS.get(fmt.symbol, f"{fmt.symbol} " if fmt.symbol else "")
        return f"-{symbol}{text[1:]}" if text.startswith("-") else f"{symbol}{text}"
    return text


def _number(value: float, decimals: int | None) -> str:
    if decimals is not None:
        return f"{value:,.{decimals}f}"
    if value == int(value) or abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.4g}"


def _axis_format(field: Field) -> dict[str, Any]:
    """plotly tick format for a measure axis (d3-format), matching format_value."""
    fmt = field.number_format
    if fmt is None:
        return {}
    decimals = 2 if fmt.decimals is None else fmt.decimals
    if fmt.kind == "percent":
        return {"tickformat": f".{min(decimals, 1)}%"}
    prefix = _SYMBOLS.get(fmt.symbol, fmt.symbol) if fmt.kind == "currency" else ""
    return {"tickprefix": prefix, "tickformat": "~s"}


def _layout(height: int, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "height": height,
        "autosize": True,
        "margin": {"l": 56, "r": 12, "t": 8, "b": 40},
        "font": _FONT,
        "colorway": _COLORWAY,
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "hoverlabel": {"font": {"size": 11}},
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.14, "x": 0, "font": {"size": 10}},
    }
    layout.update(extra)
    return layout


def _label(value: Any) -> str:
    return "(blank)" if value is None else str(value)


def _series(visual: Visual, rows: Sequence[Row]) -> list[tuple[str, str, str | None]]:
    """(trace name, measure alias, colour value) for every line or bar series, colours in sorted order."""
    measures = [(f"m{i}", f) for i, f in enumerate(visual.values)]
    if not visual.colors:
        return [(field.label, alias, None) for alias, field in measures]
    colours = sorted({_label(row["k0"]) for row in rows})
    several = len(measures) > 1
    return [(f"{c} · {f.label}" if several else c, alias, c) for alias, f in measures for c in colours]


def _y_axis(visual: Visual) -> dict[str, Any]:
    axis: dict[str, Any] = {"gridcolor": "#e8e8e8", "zerolinecolor": "#bbbbbb", "automargin": True}
    formats = {str(f.number_format) for f in visual.values}
    if len(formats) == 1 and visual.values:
        axis.update(_axis_format(visual.values[0]))
    if len(visual.values) == 1:
        axis["title"] = {"text": visual.values[0].label, "font": {"size": 10}}
    return axis


def line_figure(visual: Visual, rows: Sequence[Row]) -> Figure:
    """One line per colour value (or per measure): x is the date category."""
    traces = []
    fields = {f"m{i}": f for i, f in enumerate(visual.values)}
    for name, alias, colour in _series(visual, rows):
        points = [r for r in rows if colour is None or _label(r["k0"]) == colour]
        traces.append(
            {
                "type": "scatter",
                "x": [r["c0"] for r in points],
                "y": [r[alias] for r in points],
                "name": name,
                "mode": "lines+markers",
                "marker": {"size": 4},
                "line": {"width": 2},
                "text": [format_value(r[alias], fields[alias]) for r in points],
                "hovertemplate": "%{x}<br>" + name.replace("%", "%%") + ": %{text}<extra></extra>",
            }
        )
    date_axis = visual.category[0].role == "date"
    x_axis: dict[str, Any] = {"type": "date" if date_axis else "category", "gridcolor": "#f0f0f0", "automargin": True}
    days = sorted({str(r["c0"]) for r in rows})
    if date_axis:
        x_axis["tickformat"] = "%b %d"
        if len(days) <= 14:  # one tick a day: plotly's own ticks would repeat a day at 12-hour steps
            x_axis.update(dtick=86_400_000, tick0=days[0])
    layout = _layout(
        visual.row_span * ROW_PX,
        xaxis=x_axis,
        yaxis=_y_axis(visual),
        showlegend=len(traces) > 1 or bool(visual.colors),
        hovermode="closest",
    )
    return {"data": traces, "layout": layout}


def bar_figure(visual: Visual, rows: Sequence[Row]) -> Figure:
    """Bars in the query's category order (ranked, top N), one trace per colour value (or per measure)."""
    categories = list(dict.fromkeys(_label(r["c0"]) for r in rows))
    horizontal = visual.options.get("Orientation", "VERTICAL") == "HORIZONTAL"
    fields = {f"m{i}": f for i, f in enumerate(visual.values)}
    traces = []
    for name, alias, colour in _series(visual, rows):
        cells = {_label(r["c0"]): r[alias] for r in rows if colour is None or _label(r["k0"]) == colour}
        values = [cells.get(c) for c in categories]
        texts = [format_value(v, fields[alias]) for v in values]
        place = {"y": categories, "x": values, "orientation": "h"} if horizontal else {"x": categories, "y": values}
        hover = ("%{y}" if horizontal else "%{x}") + "<br>" + name.replace("%", "%%") + ": %{text}<extra></extra>"
        traces.append({"type": "bar", "name": name, "text": texts, "textposition": "none", "hovertemplate": hover, **place})
    arrangement = visual.options.get("BarsArrangement", "CLUSTERED")
    mode = {"CLUSTERED": "group", "STACKED": "stack", "STACKED_PERCENT": "relative"}.get(arrangement, "group")
    category_axis = {"type": "category", "automargin": True, "categoryorder": "array", "categoryarray": categories}
    value_axis = _y_axis(visual)
    if horizontal:
        category_axis["autorange"] = "reversed"  # the first (top-ranked) category on top, as QuickSight draws it
        axes = {"yaxis": category_axis, "xaxis": value_axis}
    else:
        axes = {"xaxis": category_axis, "yaxis": value_axis}
    layout = _layout(
        visual.row_span * ROW_PX,
        barmode=mode,
        barnorm="percent" if arrangement == "STACKED_PERCENT" else None,
        showlegend=len(traces) > 1 or bool(visual.colors),
        **axes,
    )
    return {"data": traces, "layout": layout}


def sparkline_figure(rows: Sequence[Row], field: Field, height: int, area: bool) -> Figure:
    """The KPI's trend: every day of the trend group, no axes."""
    trace = {
        "type": "scatter",
        "x": [r["c0"] for r in rows],
        "y": [r["m0"] for r in rows],
        "mode": "lines",
        "line": {"width": 2, "color": "#1f77b4"},
        "fill": "tozeroy" if area else None,
        "text": [format_value(r["m0"], field) for r in rows],
        "hovertemplate": "%{x}: %{text}<extra></extra>",
    }
    hidden = {"visible": False, "fixedrange": True}
    layout = _layout(height, margin={"l": 4, "r": 4, "t": 4, "b": 4}, xaxis=hidden, yaxis=hidden, showlegend=False)
    return {"data": [trace], "layout": layout}


def figure_json(figure: Figure) -> str:
    """The figure as plotly.js reads it: dates in ISO form, NaN as null, keys set to None left out, and nothing
    that could close the <script> element it is put in."""
    text = json.dumps(_jsonable(figure), separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items() if item is not None}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, date | time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, Decimal):
        return _jsonable(float(value))
    return value
