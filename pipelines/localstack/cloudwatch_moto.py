"""Puts the metric store behind moto's CloudWatch API (reversibly), fixing its namespace leak, percentiles, paging and speed."""

from __future__ import annotations

import heapq
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

import cbor2
import numpy as np
import orjson
from moto.cloudwatch.exceptions import CloudWatchException, InvalidParameterCombination, InvalidParameterValue
from moto.cloudwatch.models import CloudWatchBackend, cloudwatch_backends
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult, BaseResponse, EmptyResult

from pipelines.localstack import rpc_v2_cbor
from pipelines.localstack.cloudwatch_query import (
    ListMetricsRequest,
    MetricDataPage,
    MetricRequestError,
    OwnedKey,
    WindowSource,
    get_metric_data,
    list_metrics,
    parse_metric_data_request,
    put_metric_data,
)
from pipelines.localstack.cloudwatch_store import (
    BASIC_STATISTICS,
    MetricStore,
    RegionMetrics,
    SeriesKey,
    SeriesSlice,
    Statistic,
    aggregate,
    series_key,
)
from pipelines.localstack.moto_patch import MethodPatch
from pipelines.localstack.settings import STACKS

_STORE_ATTRIBUTE = "_mlmon_region_metrics"
MAX_STATISTICS_DATAPOINTS = 1_440  # GetMetricStatistics, as in CloudWatch
RECENTLY_ACTIVE_SECONDS = 3 * 3600  # ListMetrics RecentlyActive=PT3H


def region_metrics(backend: CloudWatchBackend) -> RegionMetrics:
    """The store of one moto CloudWatch backend (account x region): it lives and is reset with moto's state."""
    return backend.__dict__.setdefault(_STORE_ATTRIBUTE, RegionMetrics())  # setdefault: atomic under the GIL


def moto_metric_store() -> MetricStore:
    """The store as the server sees it: the account and region moto resolves for a request pick the data."""
    return MetricStore(lambda account_id, region: region_metrics(cloudwatch_backends[account_id][region]))


def _epoch(value: Any) -> int:
    if isinstance(value, datetime):
        return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp() // 1)
    return int(float(value) // 1)


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


class _Sources:
    """One account's data in a request: the backend's store, then moto's built-in metrics (AWS/S3 per bucket) on first need."""

    def __init__(self, backend: CloudWatchBackend, now: int) -> None:
        self._backend = backend
        self._now = now
        self.store = region_metrics(self._backend)
        self._providers: RegionMetrics | None = None
        self._linked: dict[str, _Sources] = {}

    @classmethod
    def of(cls, response: CloudWatchResponse) -> _Sources:
        """The data of the account and region moto resolved for the request."""
        return cls(response.cloudwatch_backend, STACKS.for_response(response).clock.epoch())

    def linked(self, account_id: str) -> _Sources | None:
        """The data of `account_id` in this region as this (monitoring) account sees it: itself, or a linked account."""
        if account_id == self._backend.account_id:
            return self
        if account_id not in self.store.linked_accounts:
            return None
        if account_id not in self._linked:  # once per request: its AWS/S3 metrics are computed on first need
            self._linked[account_id] = _Sources(cloudwatch_backends[account_id][self._backend.region_name], self._now)
        return self._linked[account_id]

    def linked_catalog(self, owning_account: str | None) -> list[tuple[OwnedKey, int]]:
        """The catalogs of this account and its linked ones (or only `owning_account`), merged by key, then account."""
        accounts = sorted({self._backend.account_id, *self.store.linked_accounts})
        catalogs = []
        for account in accounts if owning_account is None else [owning_account]:
            sources = self.linked(account)
            if sources is not None:
                catalogs.append([((*key, account), last_ts) for key, last_ts in sources.catalog()])
        return list(heapq.merge(*catalogs))

    def providers(self) -> RegionMetrics:
        """moto's daily AWS/S3 storage metrics, computed now: stamped at the stack clock's day (moto: the wall clock's)."""
        if self._providers is None:
            self._providers = RegionMetrics()
            today = self._now - self._now % 86_400
            for datum in self._backend.aws_metric_data:
                key = series_key(datum.namespace, datum.name, [(d.name, d.value) for d in datum.dimensions])
                value = datum.value  # moto's providers (S3) give MetricDatum, which has one
                self._providers.put_values(key, datum.unit, [today], [float(value)])
        return self._providers

    def window(self, key: SeriesKey, start: int, end: int, unit: str | None) -> SeriesSlice | None:
        found = self.store.window(key, start, end, unit)
        return found if found is not None else self.providers().window(key, start, end, unit)

    def last_unit(self, key: SeriesKey) -> str:
        return self.store.last_unit(key) if key in self.store else self.providers().last_unit(key)

    def catalog(self) -> list[tuple[SeriesKey, int]]:
        stored, provided = self.store.catalog(), self.providers().catalog()
        if not provided:
            return stored
        merged: dict[SeriesKey, int] = {}
        for key, last_ts in heapq.merge(stored, provided):
            merged[key] = max(last_ts, merged.get(key, last_ts))
        return list(merged.items())


def _raising_aws_errors(call: Callable[[], Any]) -> Any:
    """MetricRequestError and ValueError as the CloudWatch error moto serialises (HTTP 400, not a retried 500)."""
    try:
        return call()
    except MetricRequestError as error:
        raise CloudWatchException(error.code, error.message) from None
    except ValueError as error:
        raise InvalidParameterValue(str(error)) from None


def _wants_json(response: CloudWatchResponse) -> bool:
    return str(response.headers.get("Content-Type", "")).startswith("application/x-amz-json")


def _put_metric_data(
    self: CloudWatchBackend, namespace: str, metric_data: list[dict[str, Any]], received_at: int | None = None
) -> None:
    """Backend replacement (also used by moto's Kinesis): moto's checks, then the store; no Timestamp means `received_at`."""
    for member, datum in enumerate(metric_data, start=1):
        self._validate_parameters_put_metric_data(datum, member)
    stamp = int(time.time()) if received_at is None else received_at
    _raising_aws_errors(lambda: put_metric_data(region_metrics(self), namespace, metric_data, received_at=stamp))


def _put_metric_data_response(self: CloudWatchResponse) -> ActionResult:
    """PutMetricData: a datum without Timestamp is stamped with the stack's clock."""
    received_at = STACKS.for_response(self).clock.epoch()
    _put_metric_data(self.cloudwatch_backend, self._get_param("Namespace"), self._get_param("MetricData", []), received_at)
    return EmptyResult()


def _parse_parameters(self: CloudWatchResponse, request: Any) -> None:
    """PutMetricData in JSON skips moto's generic parser: half of its time went to per-datum timezone conversion.
    The store checks the datums itself (and reads epoch-second timestamps)."""
    if _wants_json(self) and self._get_action() == "PutMetricData":
        self.params = json.loads(request.data or b"{}")
        return
    BaseResponse.parse_parameters(self, request)


def _get_metric_data(self: CloudWatchResponse) -> Any:
    params = self._get_params()
    request = _raising_aws_errors(lambda: parse_metric_data_request(params, _epoch))
    sources = _Sources.of(self)

    def account_windows(account_id: str) -> WindowSource | None:
        linked = sources.linked(account_id)
        return None if linked is None else linked.window

    page = _raising_aws_errors(lambda: get_metric_data(request, sources.window, account_windows))
    if self.headers.get(rpc_v2_cbor.MARK):  # asked in CBOR (the pipeline's clients): the arrays as CBOR directly
        return _metric_data_cbor(page), {"Content-Type": rpc_v2_cbor.CONTENT_TYPE}
    if _wants_json(self):  # botocore's default protocol for CloudWatch: serialise the arrays directly
        return _metric_data_json(page), {"Content-Type": "application/x-amz-json-1.0"}
    results = [
        {"Id": r.id, "Label": r.label, "StatusCode": r.status, "Messages": r.messages}
        | {"Timestamps": [_utc(t) for t in r.timestamps.tolist()], "Values": r.values.tolist()}
        for r in page.results
    ]
    return ActionResult({"MetricDataResults": results, "NextToken": page.next_token, "Messages": []})


def _metric_data_json(page: MetricDataPage) -> str:
    """The JSON body, arrays written by orjson straight from numpy (a 100,000-point page: ~95 ms with json.dumps, ~8)."""
    results = [
        {
            "Id": r.id,
            "Label": r.label,
            "Timestamps": np.ascontiguousarray(r.timestamps, dtype=np.int64),
            "Values": np.ascontiguousarray(r.values, dtype=np.float64),
            "StatusCode": r.status,
        }
        | ({"Messages": r.messages} if r.messages else {})
        for r in page.results
    ]
    body: dict[str, Any] = {"MetricDataResults": results, "Messages": []}
    if page.next_token:
        body["NextToken"] = page.next_token
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def _metric_data_cbor(page: MetricDataPage) -> bytes:
    """The CBOR body, each point array written by numpy as one run of fixed-width items: a timestamp as tag 1
    and a 4- or 8-byte unsigned integer, a value as a double (the layout CloudWatch's own answers use)."""
    out = [_cbor_head(5, 2 + bool(page.next_token)), cbor2.dumps("MetricDataResults"), _cbor_head(4, len(page.results))]
    for r in page.results:
        fields: dict[str, Any] = {"Id": r.id, "Label": r.label, "StatusCode": r.status}
        if r.messages:
            fields["Messages"] = r.messages
        out.append(_cbor_head(5, len(fields) + 2))
        out += [cbor2.dumps(k) + cbor2.dumps(v) for k, v in fields.items()]
        out += [cbor2.dumps("Timestamps"), _cbor_stamps(np.asarray(r.timestamps, dtype=np.int64))]
        values = np.asarray(r.values, dtype=np.float64)
        points = np.empty(len(values), dtype=[("head", "u1"), ("value", ">f8")])
        points["head"], points["value"] = 0xFB, values
        out += [cbor2.dumps("Values"), _cbor_head(4, len(values)), points.tobytes()]
    out += [cbor2.dumps("Messages"), _cbor_head(4, 0)]
    if page.next_token:
        out += [cbor2.dumps("NextToken"), cbor2.dumps(page.next_token)]
    return b"".join(out)


def _cbor_stamps(stamps: np.ndarray) -> bytes:
    if len(stamps) and (stamps.min() < 0 or stamps.max() >= 1 << 32):
        return cbor2.dumps([cbor2.CBORTag(1, t) for t in stamps.tolist()])
    points = np.empty(len(stamps), dtype=[("tag", "u1"), ("head", "u1"), ("stamp", ">u4")])
    points["tag"], points["head"], points["stamp"] = 0xC1, 0x1A, stamps
    return _cbor_head(4, len(stamps)) + points.tobytes()


def _cbor_head(major: int, argument: int) -> bytes:
    """A CBOR item head: major type and its length (count of a map's pairs, an array's items)."""
    if argument < 24:
        return bytes([major << 5 | argument])
    size = 1 if argument < 1 << 8 else 2 if argument < 1 << 16 else 4 if argument < 1 << 32 else 8
    return bytes([major << 5 | {1: 24, 2: 25, 4: 26, 8: 27}[size]]) + argument.to_bytes(size, "big")


def _list_metrics(self: CloudWatchResponse) -> ActionResult:
    params = self._get_params()
    settings = STACKS.for_response(self)
    now = settings.clock.epoch()
    active_since = None if settings.recently_active_days is None else now - int(settings.recently_active_days * 86_400)
    if params.get("RecentlyActive") == "PT3H":
        active_since = max(active_since or 0, now - RECENTLY_ACTIVE_SECONDS)
    include_linked = str(params.get("IncludeLinkedAccounts", "")).lower() == "true"  # JSON: a bool; query: "true"
    if params.get("OwningAccount") and not include_linked:
        raise InvalidParameterCombination("OwningAccount requires IncludeLinkedAccounts to be true.")
    request = ListMetricsRequest(
        params.get("Namespace"),
        params.get("MetricName"),
        tuple((d["Name"], d.get("Value")) for d in params.get("Dimensions") or ()),
        active_since,
        params.get("NextToken"),
        include_linked,
        params.get("OwningAccount"),
    )
    sources = _Sources.of(self)
    if not include_linked:
        keys, token = _raising_aws_errors(lambda: list_metrics(sources.catalog(), request))
        return ActionResult({"Metrics": [_metric(key) for key in keys], "NextToken": token})
    owned, token = _raising_aws_errors(lambda: list_metrics(sources.linked_catalog(request.owning_account), request))
    # OwningAccounts mirrors Metrics: the account of each (the monitoring account's own metrics included).
    return ActionResult({"Metrics": [_metric(key) for key in owned], "NextToken": token, "OwningAccounts": [k[3] for k in owned]})


def _metric(key: SeriesKey | OwnedKey) -> dict[str, Any]:
    return {"Namespace": key[0], "MetricName": key[1], "Dimensions": [{"Name": k, "Value": v} for k, v in key[2]]}


def _get_metric_statistics(self: CloudWatchResponse) -> ActionResult:
    params = self._get_params()
    statistics, extended = params.get("Statistics") or [], params.get("ExtendedStatistics") or []
    if not statistics and not extended:
        raise InvalidParameterCombination("Must specify either Statistics or ExtendedStatistics")
    if any(s not in BASIC_STATISTICS for s in statistics) or any(s in BASIC_STATISTICS for s in extended):
        raise InvalidParameterValue("Statistics takes SampleCount, Sum, Average, Minimum, Maximum; ExtendedStatistics pNN.NN")
    start, end, period = _epoch(params["StartTime"]), _epoch(params["EndTime"]), int(params["Period"])
    if start >= end or period < 1:
        raise InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
    if -(-(end - start) // period) > MAX_STATISTICS_DATAPOINTS:
        raise InvalidParameterCombination(f"You have requested more than the limit of {MAX_STATISTICS_DATAPOINTS} datapoints.")
    parsed = [(name, _raising_aws_errors(partial(Statistic.parse, name))) for name in [*statistics, *extended]]
    key = series_key(params["Namespace"], params["MetricName"], params.get("Dimensions") or ())
    sources = _Sources.of(self)
    window = sources.window(key, start, end, params.get("Unit"))
    unit = params.get("Unit") or sources.last_unit(key)
    datapoints: dict[int, dict[str, Any]] = {}
    for name, statistic in parsed:
        if window is None:
            break
        for stamp, value in zip(*(a.tolist() for a in aggregate(window, start, period, statistic)), strict=True):
            point = datapoints.setdefault(stamp, {"Timestamp": _utc(stamp), "Unit": unit})
            if statistic.hundredths is None:
                point[name] = value
            else:
                point.setdefault("ExtendedStatistics", {})[name] = value
    return ActionResult({"Label": params["MetricName"], "Datapoints": [datapoints[t] for t in sorted(datapoints)]})


# The one piece of module state: moto's classes are process-wide, so is the record of what was replaced.
PATCH = MethodPatch(
    (
        (CloudWatchBackend, "put_metric_data", _put_metric_data),
        (CloudWatchResponse, "parse_parameters", _parse_parameters),
        (CloudWatchResponse, "put_metric_data", _put_metric_data_response),
        (CloudWatchResponse, "get_metric_data", _get_metric_data),
        (CloudWatchResponse, "list_metrics", _list_metrics),
        (CloudWatchResponse, "get_metric_statistics", _get_metric_statistics),
    )
)
