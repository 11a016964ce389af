"""Data incidents the demo injects at the AWS boundary, so the audit has something real to catch."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from pipelines.sources.cloudwatch_metrics.decode import DecodedPage


def duplicate_export(parsed: dict[str, Any], **_: Any) -> None:
    """A botocore `after-call` hook: every GetMetricData result comes back with its points twice.

    This is what a retried export that appended instead of replacing looks like: the same
    statistic for the same period twice. The natural-key expectation must stop it.
    """
    page = parsed.get("DecodedPage")
    if not isinstance(page, DecodedPage):
        return
    pieces = [np.arange(page.offsets[i], page.offsets[i + 1]) for i in range(len(page.ids))]
    order = np.concatenate([np.concatenate([p, p]) for p in pieces]) if pieces else np.array([], dtype=np.int64)
    parsed["DecodedPage"] = dataclasses.replace(
        page, offsets=page.offsets * 2, timestamps=page.timestamps[order], values=page.values[order]
    )
