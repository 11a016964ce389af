"""Objects the stack writes itself (a service's reports) read like objects a client put."""

from __future__ import annotations

import pytest

from pipelines.aws import lake_session
from pipelines.localstack.server import LocalStack

ACCOUNT = "111111111111"
BUCKET = f"sagemaker-us-east-1-{ACCOUNT}"


def test_put_objects_reads_like_put_object(stack: LocalStack) -> None:
    owner = lake_session("us-east-1", stack.endpoint_url).assume(f"arn:aws:iam::{ACCOUNT}:role/MlLakeReader", "us-east-1")
    s3 = owner.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    objects = {"monitoring/a/statistics.json": b'{"version": 0.0}', "monitoring/b/constraint_violations.json": b"{}" * 900}
    s3.put_object(Bucket=BUCKET, Key="api/statistics.json", Body=objects["monitoring/a/statistics.json"])
    stack.put_objects(ACCOUNT, BUCKET, objects)

    listed = {o["Key"]: o for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert set(listed) == {"api/statistics.json", *objects}
    assert listed["monitoring/a/statistics.json"]["ETag"] == listed["api/statistics.json"]["ETag"]
    for key, body in objects.items():
        assert listed[key]["Size"] == len(body)
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == body
    assert (
        s3.head_object(Bucket=BUCKET, Key="monitoring/a/statistics.json")["LastModified"]
        >= s3.head_object(Bucket=BUCKET, Key="api/statistics.json")["LastModified"]
    )


def test_put_objects_into_a_missing_bucket_fails(stack: LocalStack) -> None:
    with pytest.raises(ValueError, match="s3://nowhere: no such bucket"):
        stack.put_objects(ACCOUNT, "nowhere", {"k": b"v"})


def test_empty_objects_and_encoded_keys_answer_at_once_on_kept_connections(stack: LocalStack) -> None:
    """botocore sends `Expect: 100-continue` with every PutObject, an empty "folder" object too (waitress alone would
    wait for its body forever), and an encoded slash must reach moto encoded (`RAW_URI`)."""
    import boto3
    from botocore.config import Config

    once = Config(read_timeout=5, retries={"total_max_attempts": 1})  # a wait for a body that never comes fails fast
    s3 = boto3.session.Session(region_name="us-east-1").client("s3", endpoint_url=stack.endpoint_url, config=once)
    s3.create_bucket(Bucket="kept-connections")
    keys = ["inbox/sub/", "inbox/a%2Fb.csv", "inbox/plain.csv"]
    for key in keys:
        s3.put_object(Bucket="kept-connections", Key=key, Body=b"" if key.endswith("/") else key.encode())
    listed = s3.list_objects_v2(Bucket="kept-connections")["Contents"]
    assert sorted((o["Key"], o["Size"]) for o in listed) == sorted((k, 0 if k.endswith("/") else len(k)) for k in keys)
    assert s3.get_object(Bucket="kept-connections", Key="inbox/a%2Fb.csv")["Body"].read() == b"inbox/a%2Fb.csv"
