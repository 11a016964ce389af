"""The preview's figures as plotly.js reads them: JSON that parses, with what plotly's own encoder would have written
for the values DuckDB hands back (dates, NaN, Decimal sums), and nothing that could end the page's <script>."""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from decimal import Decimal

from pipelines.publish.quicksight.preview_charts import figure_json


def test_values_are_written_as_plotly_js_reads_them() -> None:
    figure = {
        "data": [
            {
                "type": "scatter",
                "x": [date(2026, 11, 23), datetime(2026, 11, 24, 6, 30)],
                "y": [Decimal("12"), math.nan],
                "fill": None,
                "text": ["</script><b>&", "€ 1"],
            }
        ],
        "layout": {"barnorm": None, "height": 120},
    }
    text = figure_json(figure)
    assert "</" not in text and "<b>" not in text and "&" not in text  # the page's <script> stays closed
    parsed = json.loads(text)  # strict JSON: NaN would not parse
    [trace] = parsed["data"]
    assert trace["x"] == ["2026-11-23", "2026-11-24T06:30:00"]
    assert trace["y"] == [12.0, None]
    assert "fill" not in trace and parsed["layout"] == {"height": 120}  # None: not set, as plotly's objects leave it
    assert trace["text"] == ["</script><b>&", "€ 1"]
