"""5,000 small Model Monitor objects in one night: concurrent reads against sequential ones, and the memory they take.

The reports are SageMaker's real outputs (`tests/fixtures/model_monitor`): 105 endpoints x an hourly data-quality
schedule x 24 hours x statistics + violations (5,040 objects). The local stack answers a request in a millisecond
or two of its own CPU; S3's median latency for small requests is "in the tens of milliseconds" (AWS, S3
performance whitepaper, "Timeouts and Retries for Latency-Sensitive Applications"), and that wait is what
concurrency hides. So every S3 request waits LATENCY_S more at the AWS boundary (a botocore `before-send` hook
sleeping in the calling thread, as a network wait would): the ratio measures the pipeline's fetching, not the
emulator's CPU, which shares this machine's two cores with it.
Each landing runs in a fresh process (`benchmarks.measured_child`) for its own peak RSS.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks import Result, at_least, at_most, info, measured_child
from benchmarks.bench_night import seeded_stack

NIGHT = date(2026, 11, 20)
ACCOUNT = "111111111111"
BUCKET = f"sagemaker-us-east-1-{ACCOUNT}"
ENDPOINTS = 105
LATENCY_S = 0.030
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "model_monitor"
TARGET_SPEEDUP = 5.0
TARGET_PEAK_MIB = 1536


def config_text(url: str) -> str:
    return f"""lake:
  region: us-east-1
  bucket: bench-reports-lake
  database: bench_reports
sources:
  - account_id: "{ACCOUNT}"
    role_arn: arn:aws:iam::{ACCOUNT}:role/Reader
    regions: [us-east-1]
model_monitor:
  report_prefixes: ["s3://{BUCKET}/monitoring/"]
log_patterns:
  enabled: false
endpoint_url: {url}
"""


def put_reports(url: str) -> int:
    """The night's executions in the account's SageMaker bucket; returns the objects written."""
    from concurrent.futures import ThreadPoolExecutor

    import boto3

    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    s3.create_bucket(Bucket=BUCKET)
    bodies = {
        "statistics.json": (FIXTURES / "data_quality_statistics_baseline.json").read_bytes(),
        "constraint_violations.json": (FIXTURES / "data_quality_violations_sdk_test.json").read_bytes(),
    }
    keys = [
        (f"monitoring/ep-{e:03d}/dq-hourly/{NIGHT:%Y/%m/%d}/{hour:02d}/{name}", body)
        for e in range(ENDPOINTS)
        for hour in range(24)
        for name, body in bodies.items()
    ]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda item: s3.put_object(Bucket=BUCKET, Key=item[0], Body=item[1]), keys))
    return len(keys)


def land(config_path: str, workers: int) -> dict[str, Any]:
    """Child: land the night's Model Monitor reports with `workers` concurrent reads, each S3 request LATENCY_S slower."""
    from pipelines.aws import lake_session
    from pipelines.config import load_config
    from pipelines.demo.buckets import create_bucket
    from pipelines.lake.catalog import ensure_lake
    from pipelines.logs import configure_logging
    from pipelines.sources.model_monitor.landing import land_model_monitor

    configure_logging("WARNING")
    config = load_config(Path(config_path))
    config = config.model_copy(update={"model_monitor": config.model_monitor.model_copy(update={"max_workers": workers})})
    session = lake_session(config.lake.region, config.endpoint_url)
    create_bucket(session, config.lake.bucket, config.lake.region)
    ensure_lake(session, config.lake)
    session.register_hook("before-send.s3", lambda **_: time.sleep(LATENCY_S))
    started = time.perf_counter()
    landing = land_model_monitor(session, config, NIGHT, f"20261121T060000Z-w{workers:03d}")
    return {
        "seconds": time.perf_counter() - started,
        "objects": landing.counts.get("objects", 0),
        "counts": landing.counts,
        "rejected": len(landing.rejections),
        "errors": landing.errors,
    }


def many_reports() -> list[Result]:
    from pipelines.config import ModelMonitorConfig

    workers = ModelMonitorConfig().max_workers
    with seeded_stack(0, [NIGHT]) as url, tempfile.TemporaryDirectory(prefix="bench-reports-") as folder:
        objects = put_reports(url)
        config = Path(folder) / "reports.yaml"
        config.write_text(config_text(url))
        concurrent = measured_child("benchmarks.bench_reports", "--land", str(config), "--workers", str(workers))
        sequential = measured_child("benchmarks.bench_reports", "--land", str(config), "--workers", "1")
    same = concurrent["counts"] == sequential["counts"] and not concurrent["errors"] and not concurrent["rejected"]
    label = f"{objects:,} Model Monitor objects"
    return [
        at_least(
            f"{label}: sequential / {workers} concurrent reads ({LATENCY_S * 1000:.0f} ms an S3 request)",
            sequential["seconds"] / concurrent["seconds"],
            "x",
            TARGET_SPEEDUP,
        ),
        info(f"{label}: concurrent landing", concurrent["seconds"], "s"),
        info(f"{label}: sequential landing", sequential["seconds"], "s"),
        at_most(f"{label}: peak RSS, concurrent landing", concurrent["children_maxrss_kib"] / 1024, "MiB", TARGET_PEAK_MIB),
        info(f"{label}: both landed the same, nothing rejected", float(same), "bool"),
    ]


BENCHMARKS = (many_reports,)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="child process of the Model Monitor reports benchmark")
    parser.add_argument("--land", metavar="CONFIG", required=True)
    parser.add_argument("--workers", type=int, required=True)
    args = parser.parse_args(argv)
    print(json.dumps(land(args.land, args.workers), default=str))


if __name__ == "__main__":
    main()
