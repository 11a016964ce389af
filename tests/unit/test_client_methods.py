"""A client's methods are made once per service model and shared by every session's clients, with boto3's own
additions (S3's transfer methods) still made per client class."""

from __future__ import annotations

import botocore.client

from pipelines import aws
from pipelines.aws import lake_session


def test_clients_of_two_sessions_share_their_operations_and_keep_boto3s_additions() -> None:
    first, second = (lake_session("us-east-1", "http://127.0.0.1:9") for _ in range(2))
    a, b = first.client("s3"), second.client("s3")
    assert type(a) is not type(b)  # a class per client, as botocore makes them
    assert type(a).list_objects_v2 is type(b).list_objects_v2  # one function per operation, made once
    assert callable(a.upload_file) and callable(b.upload_file)  # boto3's creating-client-class handler ran for each
    assert botocore.client.ClientCreator._create_methods is aws._client_methods  # type: ignore[attr-defined]
    made = next(methods for (service, _), (_, methods) in aws._CLIENT_METHODS.items() if service == "s3")
    assert "upload_file" not in made and "list_objects_v2" in made  # the additions are the class's, not the cache's
    cloudwatch = first.client("cloudwatch")
    assert hasattr(cloudwatch, "get_metric_data") and not hasattr(cloudwatch, "list_objects_v2")
    assert a.meta.service_model.service_name == "s3" and cloudwatch.meta.service_model.service_name == "cloudwatch"
