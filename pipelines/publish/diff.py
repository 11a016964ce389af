"""What differs between a deployed resource and the wanted request, said as a readable unified diff.

Describe calls return more than was sent (defaults, times, ARNs): only the keys the request sets
are compared, so what the service adds is never a change.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Collection, Mapping
from typing import Any


def shaped_like(deployed: Any, wanted: Any, ignored: Collection[str] = ()) -> Any:
    """`deployed` cut to the keys `wanted` has, recursively (lists item by item when their lengths agree)."""
    if isinstance(wanted, Mapping) and isinstance(deployed, Mapping):
        return {k: shaped_like(deployed[k], wanted[k], ignored) for k in wanted if k in deployed and k not in ignored}
    if isinstance(wanted, list) and isinstance(deployed, list) and len(wanted) == len(deployed):
        return [shaped_like(d, w, ignored) for d, w in zip(deployed, wanted, strict=True)]
    return deployed


def request_diff(
    deployed: Mapping[str, Any], wanted: Mapping[str, Any], ignored: Collection[str] = (), limit: int = 80
) -> list[str]:
    """A unified diff of `wanted` against `deployed` over the keys `wanted` sets; empty when they agree."""
    before = shaped_like(deployed, wanted, ignored)
    after = {k: v for k, v in wanted.items() if k not in ignored}
    lines = list(
        difflib.unified_diff(
            json.dumps(before, indent=1, sort_keys=True).splitlines(),
            json.dumps(after, indent=1, sort_keys=True).splitlines(),
            "deployed",
            "wanted",
            n=2,
            lineterm="",
        )
    )
    return lines[:limit] + ([f"... {len(lines) - limit} more lines"] if len(lines) > limit else [])
