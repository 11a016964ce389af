"""Buckets the demo and the tests write into (the pipeline itself expects its bucket to exist)."""

from __future__ import annotations

from pipelines.aws import Session


def create_bucket(session: Session, bucket: str, region: str) -> None:
    """The lake's bucket (idempotent)."""
    s3 = session.client("s3", region_name=region)
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket in existing:
        return
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
