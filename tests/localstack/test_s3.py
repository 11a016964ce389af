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
