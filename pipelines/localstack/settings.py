"""What each running stack decides for itself (its clock, the ListMetrics activity rule), found by the server's port."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


class StackClock:
    """The stack's "now" for the rules AWS applies relative to it (ListMetrics' two weeks, PutLogEvents' 14 days).

    The wall clock by default; a set moment stays put until moved, so a demo or a test can run
    any night as if it were the morning after it, on any date.
    """

    def __init__(self, moment: datetime | None = None) -> None:
        self._moment = _aware(moment) if moment is not None else None

    def now(self) -> datetime:
        return self._moment or datetime.now(UTC)

    def set(self, moment: datetime | None) -> None:
        """Stand at `moment` (naive means UTC); None goes back to the wall clock."""
        self._moment = _aware(moment) if moment is not None else None

    def epoch(self) -> int:
        return int(self.now().timestamp() // 1)


@dataclass(frozen=True)
class StackSettings:
    """Per-stack choices: ListMetrics lists series with a datapoint in the `recently_active_days` before the clock's now."""

    clock: StackClock = field(default_factory=StackClock)
    recently_active_days: float | None = 14.0  # None: list every series, however old


class _Stacks:
    """Running stacks by port: moto's handlers are process-wide, so a request finds its stack by the port it came in on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_port: dict[int, StackSettings] = {}

    def register(self, port: int, settings: StackSettings) -> None:
        with self._lock:
            self._by_port[port] = settings

    def forget(self, port: int) -> None:
        with self._lock:
            self._by_port.pop(port, None)

    def for_response(self, response: Any) -> StackSettings:
        """The settings of the stack that received the request moto's `response` handles (defaults if unknown)."""
        port = response.normalized_request.environ.get("SERVER_PORT")
        return self._by_port.get(int(port), _DEFAULTS) if port else _DEFAULTS


_DEFAULTS = StackSettings()
# The one piece of module state: the servers run in this process, so does the record of their settings.
STACKS = _Stacks()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
