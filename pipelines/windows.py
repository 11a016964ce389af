"""Time windows of the lake: a night and the lookback days it re-reads, as UTC [start, end) aligned to days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta


@dataclass(frozen=True)
class Window:
    """[start, end) in UTC, aligned to days and so to every period that divides a day."""

    start: datetime
    end: datetime

    @property
    def days(self) -> list[str]:
        count = (self.end - self.start).days
        return [(self.start.date() + timedelta(days=i)).isoformat() for i in range(count)]

    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


def night_window(night: date, lookback_days: int) -> Window:
    """The night D re-reads `lookback_days` before it, because CloudWatch data arrives late."""
    start = datetime.combine(night - timedelta(days=lookback_days), time(0), tzinfo=UTC)
    return Window(start=start, end=datetime.combine(night + timedelta(days=1), time(0), tzinfo=UTC))
