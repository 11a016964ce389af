"""The demo's endpoint logs: deterministic, noise that no error class matches, the weekly storm on Tuesdays only."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import numpy as np

from pipelines.config import DEFAULT_ERROR_PATTERNS
from pipelines.demo.fleet import build_fleet
from pipelines.demo.fleet_stories import STORM_ENDPOINT, WEEKLY_504_STORM
from pipelines.demo.seed_endpoint_logs import BATCH_EVENTS, _batches, _noise, endpoint_log_lines

FLEET = build_fleet(seed=7, days=14)
PATTERNS = {name: re.compile(p, re.IGNORECASE) for name, p in DEFAULT_ERROR_PATTERNS.items()}


def test_noise_matches_no_error_class():
    for endpoint in FLEET.endpoints:
        for day in FLEET.dates[:3]:
            start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
            for _, message in _noise(endpoint, start, np.random.default_rng(1), 0):
                assert not [n for n, p in PATTERNS.items() if p.search(message)], message


def test_lines_are_deterministic_sorted_and_inside_their_day():
    endpoint = FLEET.endpoints[0]
    day = FLEET.dates[4]
    first, second = endpoint_log_lines(FLEET, endpoint, day), endpoint_log_lines(FLEET, endpoint, day)
    assert first == second
    start = int(datetime.combine(day, datetime.min.time(), tzinfo=UTC).timestamp() * 1000)
    for lines in first.values():
        assert lines == sorted(lines) and all(start <= t < start + 86_400_000 for t, _ in lines)


def test_the_504_storm_comes_when_its_stories_say_tuesdays_at_two():
    storms = {s.start: s for s in FLEET.stories if s.kind == WEEKLY_504_STORM}
    assert [t.strftime("%a %H:%M") for t in storms] == ["Tue 02:00", "Tue 02:00"]
    endpoint = next(e for e in FLEET.endpoints if e.name == STORM_ENDPOINT)
    for day in FLEET.dates:
        lines = [(t, m) for stream in endpoint_log_lines(FLEET, endpoint, day).values() for t, m in stream]
        stormy = [datetime.fromtimestamp(t / 1000, UTC) for t, m in lines if PATTERNS["http_5xx"].search(m)]
        story = next((s for s in storms.values() if s.start.date() == day), None)
        inside = [t for t in stormy if story and story.start <= t < story.end]
        assert (len(inside) >= 18) == (story is not None), (day, len(inside))
        assert len(stormy) - len(inside) <= 3, (day, len(stormy))  # the odd background 500 outside the storm


def test_batches_respect_put_log_events_limits():
    events = [(i * 1_000, "x" * 200) for i in range(25_000)]
    batches = list(_batches(events))
    assert sum(len(b) for b in batches) == len(events)
    assert all(len(b) <= BATCH_EVENTS and b[-1][0] - b[0][0] < 86_400_000 for b in batches)
    assert all(sum(len(m) + 26 for _, m in b) <= 1_048_576 for b in batches)
    day_apart = [(0, "a"), (int(timedelta(days=1).total_seconds() * 1000), "b")]
    assert len(list(_batches(day_apart))) == 2
