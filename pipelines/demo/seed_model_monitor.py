"""Seed Model Monitor reports for the demo fleet in SageMaker's own formats, so the lake has drift, decay and a broken file to show."""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any

import numpy as np

from pipelines.aws import Session
from pipelines.demo.buckets import create_bucket
from pipelines.demo.fleet import Fleet, endpoint_traffic
from pipelines.demo.fleet_stories import LATENCY_INCIDENT, TRUNCATED_REPORT, DemoEndpoint
from pipelines.sources.model_monitor.reports import default_bucket_owner

PREFIX = "monitoring/"
Writer = Callable[[str, Mapping[str, bytes]], None]  # (bucket, key -> body): how the reports get into the bucket
DQ_SCHEDULE, MQ_SCHEDULE, BIAS_SCHEDULE, SHAP_SCHEDULE = (
    "data-quality-hourly",
    "model-quality-daily",
    "model-bias-daily",
    "explainability-daily",
)
MQ_HOUR, BIAS_HOUR, SHAP_HOUR = 1, 3, 4  # daily schedules run at these UTC hours
CAPTURE = 0.02  # data capture samples 2% of requests
DRIFT_THRESHOLD = 0.1
AUC_START, AUC_END, AUC_THRESHOLD = 0.93, 0.80, 0.85  # model quality decays through its threshold over the period
# name, inferred type, baseline mean, std dev (numeric) or distinct values (string)
FEATURES = (
    ("amount", "Fractional", 120.0, 45.0),
    ("items", "Integral", 3.0, 1.5),
    ("hour_of_day", "Integral", 13.0, 5.5),
    ("country", "String", 12, 0),
    ("device_id", "String", 0, 0),
)
# Post-training bias metrics Clarify writes for a facet, with their baseline values.
BIAS_BASELINE = {
    "AD": -0.021,
    "CDDPL": 0.034,
    "DAR": -0.012,
    "DCA": -0.05,
    "DCR": 0.018,
    "DI": 0.93,
    "DPPL": 0.041,
    "DRR": 0.022,
    "FT": -0.01,
    "RD": 0.015,
    "TE": 1.12,
}
SHAP_FEATURES = ("amount", "items", "hour_of_day", "country_us", "country_gb", "device_age_days", "merchant_risk", "card_present")
MQ_CONSTRAINTS = {
    "auc": (AUC_THRESHOLD, "LessThanThreshold"),
    "accuracy": (0.9, "LessThanThreshold"),
    "recall": (0.7, "LessThanThreshold"),
    "precision": (0.7, "LessThanThreshold"),
    "f1": (0.7, "LessThanThreshold"),
    "true_positive_rate": (0.7, "LessThanThreshold"),
    "true_negative_rate": (0.9, "LessThanThreshold"),
    "false_positive_rate": (0.1, "GreaterThanThreshold"),
    "false_negative_rate": (0.3, "GreaterThanThreshold"),
}


@dataclass(frozen=True)
class _Cast:
    """Who gets which monitor, and when the drift episode happens."""

    data_quality: tuple[DemoEndpoint, ...]
    quality: DemoEndpoint  # model quality and bias
    explained: DemoEndpoint  # feature attribution
    drifting: DemoEndpoint
    drift_start: datetime
    drift_end: datetime
    broken: tuple[DemoEndpoint, date, int] | None  # the one truncated report: endpoint, day, hour
    days: tuple[date, ...]


def seed_model_monitor(
    session: Session, bucket: str, fleet: Fleet, days: int | Iterable[date] | None = None, *, write: Writer | None = None
) -> dict[str, Any]:
    """Write `days` of reports (None: all; N: the last N of the fleet) and the baselines; return the config additions.

    A bucket named `sagemaker-<region>-<account>` gets the fleet's endpoints of that account and
    region (as SageMaker would); any other bucket gets them all. `write(bucket, objects)` puts the objects
    (the local stack's `put_objects`, as SageMaker writes them); by default they are PutObject calls of `session`.
    Returns `model_monitor` keys: {"report_prefixes": [...], "baselines": {endpoint: {...}}}.
    """
    owner = default_bucket_owner(bucket)
    create_bucket(session, bucket, owner[1] if owner else session.region_name or "us-east-1")
    cast = _cast(fleet, monitored_endpoints(fleet, bucket), _days(fleet, days))
    (write or _put_objects(session))(bucket, _objects(fleet, cast))
    baselines: dict[str, dict[str, str]] = {
        e.name: {"data_quality_constraints": f"s3://{bucket}/{_baseline_key(e, 'data-quality')}constraints.json"}
        for e in cast.data_quality
    }
    baselines[cast.quality.name]["model_quality_constraints"] = (
        f"s3://{bucket}/{_baseline_key(cast.quality, 'model-quality')}constraints.json"
    )
    return {"report_prefixes": [f"s3://{bucket}/{PREFIX}"], "baselines": baselines}


def _put_objects(session: Session) -> Writer:
    s3 = session.client("s3")

    def write(bucket: str, objects: Mapping[str, bytes]) -> None:
        with ThreadPoolExecutor(max_workers=8) as pool:  # one client, shared: boto3 clients are thread-safe
            list(pool.map(lambda item: s3.put_object(Bucket=bucket, Key=item[0], Body=item[1]), objects.items()))

    return write


def monitored_endpoints(fleet: Fleet, bucket: str) -> tuple[DemoEndpoint, ...]:
    """The fleet's endpoints whose reports `bucket` holds: its account and region's, or all for another name."""
    owner = default_bucket_owner(bucket)
    endpoints = tuple(e for e in fleet.endpoints if owner is None or (e.account_id, e.region) == owner)
    if not endpoints:
        raise ValueError(f"no endpoint of the fleet lives in {bucket}'s account and region")
    return endpoints


def monitor_objects(
    fleet: Fleet, endpoints: tuple[DemoEndpoint, ...], days: int | Iterable[date] | None = None
) -> dict[str, bytes]:
    """Every object the seeding writes (key under the bucket -> body): the same bytes on every run."""
    return _objects(fleet, _cast(fleet, endpoints, _days(fleet, days)))


def _objects(fleet: Fleet, cast: _Cast) -> dict[str, bytes]:
    objects = dict(_baselines(cast))
    for day in cast.days:
        objects.update(_day_reports(fleet, cast, day))
    objects.update(_decoys(cast, cast.days[0]))
    return objects


def _days(fleet: Fleet, days: int | Iterable[date] | None) -> list[date]:
    if days is None:
        chosen = list(fleet.dates)
    elif isinstance(days, int):
        chosen = list(fleet.dates[-days:]) if days > 0 else []
    else:
        chosen = sorted(set(days))
    if not chosen or not set(chosen) <= set(fleet.dates):
        raise ValueError(f"days must be inside the fleet's period {fleet.dates[0]}..{fleet.dates[-1]}")
    return chosen


def _cast(fleet: Fleet, endpoints: tuple[DemoEndpoint, ...], days: list[date]) -> _Cast:
    """Drift where the latency incident is (a degraded feature store shifts the inputs too), else mid-period."""
    incident = next(
        (s for s in fleet.stories if s.kind == LATENCY_INCIDENT and s.endpoint_name in {e.name for e in endpoints}), None
    )
    if incident is not None:
        drifting = next(e for e in endpoints if e.name == incident.endpoint_name)
        start, end = incident.start, incident.end + timedelta(hours=4)
    else:
        drifting = endpoints[0]
        start = datetime.combine(days[len(days) // 2], datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
        end = start + timedelta(hours=8)
    calm = next((e for e in endpoints if e != drifting), drifting)
    truncated, broken = fleet.story(TRUNCATED_REPORT), None
    if truncated is not None:  # the story's endpoint when this bucket holds its reports, else a calm one
        victim = next((e for e in endpoints if e.name == truncated.endpoint_name), calm)
        broken = (victim, truncated.start.date(), truncated.start.hour)
    return _Cast(
        endpoints, endpoints[0], endpoints[1] if len(endpoints) > 1 else endpoints[0], drifting, start, end, broken, tuple(days)
    )


def _day_reports(fleet: Fleet, cast: _Cast, day: date) -> Iterator[tuple[str, bytes]]:
    for endpoint in cast.data_quality:
        traffic = endpoint_traffic(fleet, endpoint.name, day)
        for hour in range(24):
            analysed = traffic[max(hour - 1, 0) * 60 : max(hour, 1) * 60]  # the hour before the scheduled one
            if np.isnan(analysed).all():
                continue  # not launched yet: nothing captured, no execution
            yield from _data_quality(cast, endpoint, day, hour, int(np.nansum(analysed) * CAPTURE))
    yield from _model_quality(fleet, cast.quality, day)
    yield from _bias(fleet, cast, day)
    yield from _attributions(fleet, cast, day)


def _folder(endpoint: DemoEndpoint, schedule: str, day: date, hour: int) -> str:
    return f"{PREFIX}{endpoint.name}/{schedule}/{day:%Y/%m/%d}/{hour:02d}/"


def _rng(*parts: object) -> np.random.Generator:
    return np.random.default_rng([zlib.crc32(str(part).encode()) for part in parts])


def _json(document: Any) -> bytes:
    """SageMaker's analyzer pretty-prints with ` : `; Python's json writes NaN and Infinity the way Java does."""
    return json.dumps(document, indent=2, separators=(",", " : ")).encode()


def _data_quality(cast: _Cast, endpoint: DemoEndpoint, day: date, hour: int, items: int) -> Iterator[tuple[str, bytes]]:
    scheduled = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    drifting = endpoint == cast.drifting and cast.drift_start <= scheduled < cast.drift_end
    rng = _rng(endpoint.name, day, hour)
    shift = 0.55 if drifting else 0.0  # the amount distribution moves by half its mean
    stats = _statistics(rng, max(items, 1), shift)
    folder = _folder(endpoint, DQ_SCHEDULE, day, hour)
    body = _json(stats)
    if (endpoint, day, hour) == cast.broken:
        body = body[: len(body) // 3]  # an interrupted upload: the night must still land the rest
    yield folder + "statistics.json", body
    yield folder + "constraints.json", _json(_dq_constraints())
    violations = []
    if drifting:
        distance = 0.18 + 0.1 * rng.random()
        violations = [
            {
                "feature_name": "amount",
                "constraint_check_type": "baseline_drift_check",
                "description": f"Baseline drift distance: {distance:.4f} exceeds threshold: {DRIFT_THRESHOLD}",
            },
            {
                "feature_name": "country",
                "constraint_check_type": "baseline_drift_check",
                "description": f"Baseline drift distance: {distance * 0.6:.4f} exceeds threshold: {DRIFT_THRESHOLD}",
            },
        ]
    yield folder + "constraint_violations.json", _json({"violations": violations})


def _statistics(rng: np.random.Generator, items: int, shift: float) -> dict[str, Any]:
    features = []
    for name, kind, mean, spread in FEATURES:
        missing = int(rng.binomial(items, 0.002))
        common = {"num_present": float(items - missing), "num_missing": float(missing)}  # counts as floats, as written
        if kind == "String":
            distinct = float(spread) if spread else float(items)  # device ids: one per record, no distribution
            stats: dict[str, Any] = {"common": common, "distinct_count": distinct}
            if spread:
                stats["distribution"] = {
                    "categorical": {
                        "buckets": [{"value": f"c{i}", "count": float(items // int(spread))} for i in range(int(spread))]
                    }
                }
            features.append({"name": name, "inferred_type": kind, "string_statistics": stats})
            continue
        values = rng.normal(mean * (1 + (shift if name == "amount" else 0)), spread, size=min(items, 400)).clip(0)
        if kind == "Integral":
            values = values.round()
        edges = np.linspace(values.min(), values.max(), 11)
        counts = np.histogram(values, edges)[0] * (items / len(values))
        buckets = [
            {"lower_bound": float(lo), "upper_bound": float(hi), "count": float(c)}
            for (lo, hi), c in zip(pairwise(edges), counts, strict=True)
        ]
        sketch = {"parameters": {"c": 0.64, "k": 2048.0}, "data": [[float(v) for v in values[:20]], []]}  # an empty KLL level
        features.append(
            {
                "name": name,
                "inferred_type": kind,
                "numerical_statistics": {
                    "common": common,
                    "mean": float(values.mean()),
                    "sum": float(values.mean() * items),
                    "std_dev": float(values.std()),
                    "min": float(values.min()),
                    "max": float(values.max()),
                    "distribution": {"kll": {"buckets": buckets, "sketch": sketch}},
                },
            }
        )
    return {"version": 0.0, "dataset": {"item_count": items}, "features": features}


def _dq_constraints() -> dict[str, Any]:
    features = [
        {
            "name": name,
            "inferred_type": kind,
            "completeness": 1.0,
            **({"num_constraints": {"is_non_negative": True}} if kind != "String" else {}),
        }
        for name, kind, _, _ in FEATURES
    ]
    return {
        "version": 0.0,
        "features": features,
        "monitoring_config": {
            "evaluate_constraints": "Enabled",
            "emit_metrics": "Enabled",
            "datatype_check_threshold": 1.0,
            "domain_content_threshold": 1.0,
            "distribution_constraints": {
                "perform_comparison": "Enabled",
                "comparison_threshold": DRIFT_THRESHOLD,
                "comparison_method": "Robust",
            },
        },
    }


def _progress(fleet: Fleet, day: date) -> float:
    """0 on the fleet's first day, 1 on its last."""
    return (day - fleet.start.date()).days / max(fleet.days - 1, 1)


def _model_quality(fleet: Fleet, endpoint: DemoEndpoint, day: date) -> Iterator[tuple[str, bytes]]:
    """Daily metrics against yesterday's ground truth; AUC decays below its threshold during the period."""
    rng = _rng(endpoint.name, day, "mq")
    auc = AUC_START + (AUC_END - AUC_START) * _progress(fleet, day) + rng.normal(0, 0.004)
    labelled = 150 if day.weekday() == 6 else 2400  # few labels on Sundays: too few for a standard deviation
    sd: Any = "NaN" if labelled < 200 else round(float(rng.uniform(0.001, 0.004)), 6)
    tpr, fpr = 0.55 + 0.35 * (auc - 0.5) / 0.45, 0.02 + 0.4 * (0.95 - auc)
    positives = labelled // 10
    tp, fn = round(positives * tpr), positives - round(positives * tpr)
    fp = round((labelled - positives) * fpr)
    tn = labelled - positives - fp
    precision, accuracy = tp / max(tp + fp, 1), (tp + tn) / labelled
    values = {
        "recall": tpr,
        "precision": precision,
        "accuracy": accuracy,
        "true_positive_rate": tpr,
        "true_negative_rate": 1 - fpr,
        "false_positive_rate": fpr,
        "false_negative_rate": 1 - tpr,
        "auc": auc,
        "f1": 2 * precision * tpr / max(precision + tpr, 1e-9),
    }
    metrics: dict[str, Any] = {
        "confusion_matrix": {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}},
        "receiver_operating_characteristic_curve": {
            "false_positive_rates": [0.0, fpr, 1.0],
            "true_positive_rates": [0.0, tpr, 1.0],
        },
    }
    metrics.update({name: {"value": round(float(v), 6), "standard_deviation": sd} for name, v in values.items()})
    folder = _folder(endpoint, MQ_SCHEDULE, day, MQ_HOUR)
    yield (
        folder + "statistics.json",
        _json({"version": 0.0, "dataset": {"item_count": labelled}, "binary_classification_metrics": metrics}),
    )
    violations = []
    for name, (threshold, operator) in MQ_CONSTRAINTS.items():
        value = values[name]
        if (value < threshold) if operator == "LessThanThreshold" else (value > threshold):
            camel = re.sub(r"_([a-z])", lambda m: m[1].upper(), name)  # newer containers write camelCase names
            violations.append(
                {
                    "metric_name": camel,
                    "constraint_check_type": operator,
                    "description": f"Metric {camel} with {value:.4f} +/- {_java(sd)} was {operator} '{threshold}'",
                }
            )
    if violations:
        yield folder + "constraint_violations.json", _json({"violations": violations})


def _java(value: Any) -> str:
    """A float as Java's Double.toString writes small ones (8.08E-4)."""
    return value if isinstance(value, str) else f"{value:.2E}".replace("E-0", "E-").replace("E+0", "E")


def _bias(fleet: Fleet, cast: _Cast, day: date) -> Iterator[tuple[str, bytes]]:
    rng = _rng(cast.quality.name, day, "bias")
    late = _progress(fleet, day) > 0.8  # the model's disparity grows as it decays
    metrics = []
    for name, base in BIAS_BASELINE.items():
        value: float | None = base * (2.5 if late and name == "DPPL" else 1.0) + rng.normal(0, 0.004)
        entry: dict[str, Any] = {"name": name, "description": name, "value": value}
        if name == "TE" and day.weekday() == 6:  # no false negatives in the facet on a quiet day
            entry = {
                "name": name,
                "description": name,
                "value": None,
                "error": "Treatment Equality is undefined: FN count is 0 for the facet",
            }
        metrics.append(entry)
    analysis = {
        "version": "1.0",
        "post_training_bias_metrics": {
            "label": "is_fraud",
            "label_value_or_threshold": "1",
            "facets": {"customer_age": [{"value_or_threshold": "40", "metrics": metrics}]},
        },
    }
    folder = _folder(cast.quality, BIAS_SCHEDULE, day, BIAS_HOUR)
    yield folder + "analysis.json", _json(analysis)
    if late:
        dppl = next(m["value"] for m in metrics if m["name"] == "DPPL")
        yield (
            folder + "constraint_violations.json",
            _json(
                {
                    "version": "1.0",
                    "violations": [
                        {
                            "facet": "customer_age",
                            "facet_value": "40",
                            "metric_name": "DPPL",
                            "constraint_check_type": "bias_drift_check",
                            "description": f"Value {dppl} does not meet the constraint requirement",
                        }
                    ],
                }
            ),
        )


def _attributions(fleet: Fleet, cast: _Cast, day: date) -> Iterator[tuple[str, bytes]]:
    rng = _rng(cast.explained.name, day, "shap")
    weights = np.linspace(0.02, 0.004, len(SHAP_FEATURES)) * rng.uniform(0.95, 1.05, len(SHAP_FEATURES))
    drifted = cast.explained == cast.drifting and cast.drift_start.date() == day
    if drifted:
        weights = weights[::-1]  # the feature store outage reorders what the model relies on
    shap = {name: float(w) for name, w in zip(SHAP_FEATURES, weights, strict=True)}
    folder = _folder(cast.explained, SHAP_SCHEDULE, day, SHAP_HOUR)
    yield (
        folder + "analysis.json",
        _json(
            {
                "version": "1.0",
                "explanations": {"kernel_shap": {"label0": {"global_shap_values": shap, "expected_value": 0.0213}}},
            }
        ),
    )
    if drifted:
        yield (
            folder + "constraint_violations.json",
            _json(
                {
                    "version": "1.0",
                    "violations": [
                        {
                            "label": "label0",
                            "metric_name": "shap",
                            "constraint_check_type": "feature_attribution_drift_check",
                            "description": f"Feature attribution drift {0.62 + 0.1 * rng.random():.4f} exceeds threshold 0.9",
                        }
                    ],
                }
            ),
        )


def _baseline_key(endpoint: DemoEndpoint, kind: str) -> str:
    return f"baselines/{endpoint.name}/{kind}/"


def _baselines(cast: _Cast) -> Iterator[tuple[str, bytes]]:
    """Baseline jobs write flat to their output URI: statistics.json + constraints.json."""
    for endpoint in cast.data_quality:
        key = _baseline_key(endpoint, "data-quality")
        yield key + "statistics.json", _json(_statistics(_rng(endpoint.name, "baseline"), 5000, 0.0))
        yield key + "constraints.json", _json(_dq_constraints())
    constraints = {name: {"threshold": t, "comparison_operator": op} for name, (t, op) in MQ_CONSTRAINTS.items()}
    yield (
        _baseline_key(cast.quality, "model-quality") + "constraints.json",
        _json({"version": 0.0, "binary_classification_constraints": constraints}),
    )


def _decoys(cast: _Cast, day: date) -> Iterator[tuple[str, bytes]]:
    """What else SageMaker leaves under a monitoring prefix: the ground-truth merge and the SDK's Clarify configs."""
    merged = {"captureData": {"endpointOutput": {"data": "0.91"}}, "groundTruthData": {"data": "1"}}
    yield (
        f"{PREFIX}merge/{cast.quality.name}/{MQ_SCHEDULE}/{day:%Y/%m/%d}/{MQ_HOUR:02d}/part-0.jsonl",
        (json.dumps(merged) + "\n").encode(),
    )
    for job, uuid in (
        ("model-bias-job-definition", "6f1c2a9e-0b4d-4f43-9a57-3d3e0c7b2a10"),
        ("explainability-job-definition", "a2e9d0c4-51b8-4b7e-8f0e-9d6c1e2f3b44"),
    ):
        yield (
            f"{PREFIX}{job}/{uuid}/analysis_config.json",
            _json({"methods": {}, "predictor": {"endpoint_name": cast.quality.name}}),
        )
