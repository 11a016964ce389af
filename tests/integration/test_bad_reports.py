"""A night with every kind of bad Model Monitor object beside good ones: each is rejected with a reason naming it
(source_rejections), every good report lands, and the night's tables pass their audit."""

from __future__ import annotations

import json
from typing import Any

from pipelines.audit.gate import audit
from pipelines.sources.model_monitor.landing import land_model_monitor
from tests.integration.lakehelpers import new_lake
from tests.integration.test_model_monitor import ACCOUNT, BUCKET, PREFIX, D, monitor_config, put_reports

BAD = {
    "truncated": (b'{"violations": [{"feature_name": "amount", "constraint_check', "not valid JSON"),
    "empty": (b"  \n", "empty object"),
    "binary": (bytes(range(256)) * 8, "not UTF-8"),
    "utf16": (json.dumps({"violations": []}).encode("utf-16"), "not UTF-8"),
    "nested": (b'{"violations": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "nested too deeply"),
    "huge": (b'{"violations": [' + b'{"feature_name": "x", "description": "' + b"x" * 300_000 + b'"}]}', "over max_report_bytes"),
    "wrong-type": (b'{"violations": "yes"}', "no 'violations' list"),
}


def test_every_bad_object_is_rejected_by_name_and_the_good_ones_land(stack: Any) -> None:
    config = monitor_config(stack.endpoint_url, [PREFIX], max_report_bytes=200_000)
    session = new_lake(config)
    put_reports(session)
    s3 = session.assume(f"arn:aws:iam::{ACCOUNT}:role/MlLakeReader", "us-east-1").client("s3")
    keys = {}
    for hour, (name, (body, _)) in enumerate(sorted(BAD.items()), start=9):
        keys[name] = f"monitoring/ep-a/odd-{name}/{D:%Y/%m/%d}/{hour:02d}/constraint_violations.json"
        s3.put_object(Bucket=BUCKET, Key=keys[name], Body=body)

    landing = land_model_monitor(session, config, D, "r1")
    reasons = {r["source_uri"]: r["reason"] for r in landing.rejections}
    for name, (_, why) in BAD.items():
        uri = f"s3://{BUCKET}/{keys[name]}"
        assert uri in reasons, f"{name} was not rejected"
        assert why in reasons[uri], (name, reasons[uri])
    assert landing.errors == []  # bad objects are rejections, never the source's failure
    staged = {p.table: p for p in landing.staged}
    assert staged["monitor_violations"].rows == 3 * 7 + 1  # every good report's violations
    for partition in landing.staged:
        assert audit(session, config, partition).passed, partition.table
