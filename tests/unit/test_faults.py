"""One classifier for every error at the AWS boundary: its kind, the exit code, and one line with the action."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from pipelines.errors import AccountError, ConfigError, FatalError, RetriableError
from pipelines.faults import Kind, classify, describe


def client_error(code: str, status: int = 400, operation: str = "GetMetricData", message: str = "nope") -> ClientError:
    response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, operation)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "error,kind,exit_code",
    [
        (client_error("Throttling"), Kind.RETRIABLE, 1),
        (client_error("ThrottlingException"), Kind.RETRIABLE, 1),
        (client_error("SlowDown", 503), Kind.RETRIABLE, 1),
        (client_error("SomethingNew", 502), Kind.RETRIABLE, 1),  # any 5xx
        (ReadTimeoutError(endpoint_url="https://monitoring.us-east-1.amazonaws.com"), Kind.RETRIABLE, 1),
        (client_error("AccessDenied", 403), Kind.FATAL, 1),
        (client_error("AccessDeniedException", 400), Kind.FATAL, 1),
        (client_error("ResourceNotFoundException"), Kind.FATAL, 1),
        (client_error("ValidationException"), Kind.FATAL, 1),
        (client_error("NoSuchKey", 404, "GetObject"), Kind.SKIPPABLE, 1),
        (client_error("ExpiredToken", 400), Kind.UNREACHABLE, 3),
        (client_error("InvalidClientTokenId", 403), Kind.UNREACHABLE, 3),
        (NoCredentialsError(), Kind.UNREACHABLE, 3),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:9/"), Kind.UNREACHABLE, 3),
        (ConnectTimeoutError(endpoint_url="https://s3.amazonaws.com"), Kind.UNREACHABLE, 3),
        (ConfigError("c.yaml: lake.color: unknown key"), Kind.CONFIG, 2),
        (RetriableError("emulator hiccup"), Kind.RETRIABLE, 1),
        (FatalError("bad input"), Kind.FATAL, 1),
    ],
)
def test_every_error_has_a_kind_and_an_exit_code(error: Exception, kind: Kind, exit_code: int) -> None:
    assert classify(error) is kind
    code, text = describe(error)
    assert code == exit_code and "\n" not in text and text


def test_our_wrappers_are_seen_through_to_the_aws_error() -> None:
    try:
        try:
            raise client_error("ExpiredTokenException", 400, "AssumeRole")
        except ClientError as cause:
            raise AccountError("111111111111", "us-east-1", "cannot assume the role") from cause
    except AccountError as error:
        assert classify(error) is Kind.UNREACHABLE
        assert describe(error) == (
            3,
            "AWS refused the credentials (ExpiredTokenException): refresh them (`aws sso login`) or check AWS_PROFILE",
        )


def test_the_lines_say_what_to_do() -> None:
    denied = describe(client_error("AccessDenied", 403, "PutObject", "User is not authorized to perform s3:PutObject"))
    assert denied == (
        1,
        "access denied to PutObject: User is not authorized to perform s3:PutObject; grant it to the role the pipeline runs "
        "as (see glue_jobs/)",
    )
    assert describe(EndpointConnectionError(endpoint_url="http://127.0.0.1:9/"))[1].startswith("cannot reach http://127.0.0.1:9/")
    assert "run again later" in describe(client_error("Throttling"))[1]
    assert describe(KeyError("x")) == (1, "unexpected KeyError: 'x' (--log-level DEBUG shows where)")
