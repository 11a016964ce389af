"""One resource a deploy keeps, and the account and region it lives in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Placed:
    """One resource and where it lives: a source account x region (`account_id`), or the lake's own (None)."""

    kind: str  # alarm, rule, dashboard
    name: str
    region: str
    request: dict[str, Any]
    account_id: str | None = None
    role_arn: str | None = None
    targets: list[dict[str, Any]] = field(default_factory=list)  # a rule's targets
