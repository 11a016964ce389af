"""The one moment the tests live in: no test reads the wall clock, so the suite passes on any date.

The local stack's clock stands here (its two-week rules count back from it); the nights the
integration tests land lie just before it. Three nights after a year's end: the lookback day,
the Model Monitor paths and the KPI partitions all cross a year, a month and a week boundary.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

STACK_NOW = datetime(2027, 1, 4, 2, 0, tzinfo=UTC)  # a Monday, 02:00 UTC: when a nightly run would start
NIGHT = STACK_NOW.date() - timedelta(days=3)  # Friday 2027-01-01; its lookback day is 2026-12-31
