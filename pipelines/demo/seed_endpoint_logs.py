"""Seed the demo fleet's endpoint log groups: container noise, the weekly 504 storm (Tuesdays ~02:00 UTC) and the 5xx burst's errors."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from pipelines.demo.fleet import DemoEndpoint, Fleet
from pipelines.demo.fleet_stories import ERROR_BURST, STORM_ENDPOINT, STORM_HOUR, STORM_MINUTES, STORM_WEEKDAY
from pipelines.demo.seed_endpoint_models import SessionFor, session_for

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient

LOG_GROUP_PREFIX = "/aws/sagemaker/Endpoints/"
OOM_ENDPOINT = "kyc-document-ocr-eu"  # a large scan runs the GPU out of memory on the burst day
MAX_EVENT_AGE = timedelta(days=14)  # PutLogEvents refuses older events, in AWS and in the local stack
BATCH_EVENTS, BATCH_BYTES, EVENT_OVERHEAD = 10_000, 1_048_576, 26  # PutLogEvents' limits
_PROXY = "169.254.178.2"


@dataclass(frozen=True)
class SeededLogs:
    """What seeding wrote: log groups, events stored, events not sent because they are older than 14 days."""

    log_groups: int
    events: int
    too_old: int
    rejected: int  # refused by PutLogEvents anyway (should be 0)


def seed_endpoint_logs(sessions: SessionFor, fleet: Fleet, days: Iterable[date] | None = None, *, now: datetime) -> SeededLogs:
    """Write every fleet endpoint's log lines for `days` (default: the fleet's period) into /aws/sagemaker/Endpoints/<name>.

    Deterministic for a fleet's seed. Events more than 14 days before `now` (the clock of the
    stack written to) are skipped and counted, as PutLogEvents would refuse them.
    """
    oldest_ms = int((now - MAX_EVENT_AGE + timedelta(minutes=5)).timestamp() * 1000)
    newest_ms = int((now + timedelta(hours=1)).timestamp() * 1000)
    chosen = sorted(set(days)) if days is not None else list(fleet.dates)
    groups = events = too_old = rejected = 0
    for endpoint in fleet.endpoints:
        logs = session_for(sessions, endpoint.account_id, endpoint.region).client("logs", region_name=endpoint.region)
        group = f"{LOG_GROUP_PREFIX}{endpoint.name}"
        streams = _streams(endpoint)
        _ensure(logs, group, streams)
        groups += 1
        for day in chosen:
            for stream, lines in endpoint_log_lines(fleet, endpoint, day, streams).items():
                kept = [(t, m) for t, m in lines if oldest_ms <= t <= newest_ms]
                too_old += len(lines) - len(kept)
                for batch in _batches(kept):
                    response = logs.put_log_events(
                        logGroupName=group, logStreamName=stream, logEvents=[{"timestamp": t, "message": m} for t, m in batch]
                    )
                    refused = _refused(response.get("rejectedLogEventsInfo") or {}, len(batch))
                    rejected += refused
                    events += len(batch) - refused
    return SeededLogs(groups, events, too_old, rejected)


def endpoint_log_lines(
    fleet: Fleet, endpoint: DemoEndpoint, day: date, streams: list[str] | None = None
) -> dict[str, list[tuple[int, str]]]:
    """One endpoint's log events of one UTC day per stream, sorted: (epoch ms, message)."""
    streams = streams or _streams(endpoint)
    rng = np.random.default_rng(
        np.random.SeedSequence((fleet.seed, zlib.crc32(endpoint.name.encode())), spawn_key=(day.toordinal(), 9))
    )
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    out: dict[str, list[tuple[int, str]]] = {s: [] for s in streams}
    for index, stream in enumerate(streams):
        out[stream] += _noise(endpoint, start, rng, index)
    errors = [
        *_background_errors(endpoint, start, rng),
        *_weekly_storm(endpoint, start, rng),
        *_burst(fleet, endpoint, start, rng),
        *_oom(fleet, endpoint, start),
    ]
    for offset, (ms, message) in enumerate(errors):
        out[streams[offset % len(streams)]].append((ms, message))
    return {stream: sorted(lines) for stream, lines in out.items()}


def _streams(endpoint: DemoEndpoint) -> list[str]:
    """SageMaker names streams <variant>/<instance id>; instance counts as in seed_endpoint_models."""
    count = 2 if endpoint.gpus == 0 and endpoint.vcpus >= 8 else 1
    return [f"{endpoint.variant_name}/i-0{hashlib.sha1(f'{endpoint.name}/{k}'.encode()).hexdigest()[:16]}" for k in range(count)]


def _ensure(logs: CloudWatchLogsClient, group: str, streams: list[str]) -> None:
    existing = {g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=group).get("logGroups", [])}
    if group not in existing:
        logs.create_log_group(logGroupName=group)
    have = {s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group).get("logStreams", [])}
    for stream in streams:
        if stream not in have:
            logs.create_log_stream(logGroupName=group, logStreamName=stream)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _access(moment: datetime, method: str, path: str, status: int, size: int) -> str:
    return f'{_PROXY} - - [{moment:%d/%b/%Y:%H:%M:%S} +0000] "{method} {path} HTTP/1.1" {status} {size} "-" "AHC/2.0"'


def _worker(endpoint: DemoEndpoint) -> str:
    return f"W-9000-{endpoint.name}-stdout"


def _noise(endpoint: DemoEndpoint, start: datetime, rng: np.random.Generator, instance: int) -> Iterator[tuple[int, str]]:
    """Health checks every 5 minutes, and every 10 minutes a sampled request with its model latency: none matches an error class."""
    for k in range(288):
        moment = start + timedelta(seconds=300 * k + int(rng.integers(0, 60)))
        yield _ms(moment), _access(moment, "GET", "/ping", 200, 0)
        if k % 2 == instance % 2:
            latency = max(1_000, int(rng.lognormal(np.log(30_000), 0.4)))
            yield _ms(moment) + 40, _access(moment, "POST", "/invocations", 200, int(rng.integers(40, 99)))
            yield (
                _ms(moment) + 41,
                f"{moment:%Y-%m-%dT%H:%M:%SZ} [INFO ] {_worker(endpoint)} - predict batch_size=1 latency_us={latency}",
            )


def _background_errors(endpoint: DemoEndpoint, start: datetime, rng: np.random.Generator) -> Iterator[tuple[int, str]]:
    """A few bad payloads a day, and the odd 500."""
    for _ in range(int(rng.poisson(1.2))):
        moment = start + timedelta(seconds=int(rng.integers(0, 86_400)))
        yield (
            _ms(moment),
            f"{moment:%Y-%m-%dT%H:%M:%SZ} [ERROR] {_worker(endpoint)} - Exception in input_fn: payload field 'amount' is missing",
        )
    for _ in range(int(rng.poisson(0.6))):
        moment = start + timedelta(seconds=int(rng.integers(0, 86_400)))
        yield _ms(moment), _access(moment, "POST", "/invocations", 500, 21)


def _weekly_storm(endpoint: DemoEndpoint, start: datetime, rng: np.random.Generator) -> Iterator[tuple[int, str]]:
    """Every Tuesday 02:00-02:25 UTC (the weekly_504_storm stories): 504s at the proxy, each with an upstream timeout half the time."""
    if endpoint.name != STORM_ENDPOINT or start.weekday() != STORM_WEEKDAY:
        return
    base = start + timedelta(hours=STORM_HOUR)
    for k in range(18 + int(rng.integers(0, 12))):
        moment = base + timedelta(seconds=int(rng.integers(0, STORM_MINUTES * 60)))
        yield _ms(moment), _access(moment, "POST", "/invocations", 504, 0)
        if rng.random() < 0.5:
            yield (
                _ms(moment) + 1,
                (
                    f"{moment:%Y/%m/%d %H:%M:%S} [error] 23#23: *{4000 + k} upstream timed out "
                    "(110: Connection timed out) while reading response header from upstream, "
                    f'client: {_PROXY}, request: "POST /invocations HTTP/1.1"'
                ),
            )


def _burst(fleet: Fleet, endpoint: DemoEndpoint, start: datetime, rng: np.random.Generator) -> Iterator[tuple[int, str]]:
    """The fleet's 5xx burst story: failing requests every few seconds, with the model's stack traces."""
    end = start + timedelta(days=1)
    for story in fleet.stories:
        if story.kind != ERROR_BURST or story.endpoint_name != endpoint.name or story.end <= start or story.start >= end:
            continue
        moment = max(story.start, start)
        while moment < min(story.end, end):
            status = 500 if rng.random() < 0.8 else 503
            yield _ms(moment), _access(moment, "POST", "/invocations", status, 93)
            if rng.random() < 0.25:
                yield (
                    _ms(moment) + 2,
                    (
                        f"{moment:%Y-%m-%dT%H:%M:%SZ} [ERROR] {_worker(endpoint)} - Traceback (most recent call last): "
                        "ModelError: Received server error (500) from primary: "
                        'feature "basket_embedding" has shape (0,)'
                    ),
                )
            moment += timedelta(seconds=int(rng.integers(3, 9)))


def _oom(fleet: Fleet, endpoint: DemoEndpoint, start: datetime) -> Iterator[tuple[int, str]]:
    bursts = [s.start.date() for s in fleet.stories if s.kind == ERROR_BURST]
    if endpoint.name != OOM_ENDPOINT or start.date() not in bursts:
        return
    for k in range(3):
        moment = start + timedelta(hours=11, minutes=2, seconds=20 * k)
        yield (
            _ms(moment),
            (
                f"{moment:%Y-%m-%dT%H:%M:%SZ} [ERROR] {_worker(endpoint)} - torch.OutOfMemoryError: CUDA out of memory. "
                "Tried to allocate 2.00 GiB (GPU 0; 15.78 GiB total capacity)"
            ),
        )


def _batches(events: list[tuple[int, str]]) -> Iterator[list[tuple[int, str]]]:
    """Chronological batches within PutLogEvents' limits (10,000 events, 1 MiB, 24 hours)."""
    batch: list[tuple[int, str]] = []
    size = 0
    for event in events:
        cost = len(event[1].encode()) + EVENT_OVERHEAD
        if batch and (len(batch) >= BATCH_EVENTS or size + cost > BATCH_BYTES or event[0] - batch[0][0] >= 86_400_000):
            yield batch
            batch, size = [], 0
        batch.append(event)
        size += cost
    if batch:
        yield batch


def _refused(info: dict[str, int], count: int) -> int:
    too_old = info.get("tooOldLogEventEndIndex", -1) + 1
    expired = info.get("expiredLogEventEndIndex", -1) + 1
    too_new = count - info["tooNewLogEventStartIndex"] if "tooNewLogEventStartIndex" in info else 0
    return max(too_old, expired) + too_new
