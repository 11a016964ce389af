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
from pipelines.faults import UNIT_ATTEMPTS, Kind, classify, describe, unit_retries
from pipelines.query.transpile import QueryError


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


def _failing(errors: list[BaseException]) -> tuple[list[int], object]:
    calls: list[int] = []

    def unit() -> str:
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return "done"

    return calls, unit


def _run(unit: object) -> object:
    for attempt in unit_retries("test unit", local=True):
        with attempt:
            result = unit()  # type: ignore[operator]
    return result


def test_a_unit_of_work_is_tried_again_after_a_retriable_error_wrapped_or_not() -> None:
    wrapped = QueryError("cannot list s3://lake/x/")
    wrapped.__cause__ = client_error("SlowDown", 503, "ListObjectsV2")
    calls, unit = _failing([client_error("Throttling"), wrapped])
    assert _run(unit) == "done" and len(calls) == 3


def test_retries_of_a_unit_are_bounded_and_the_last_error_is_raised_as_it_was() -> None:
    errors: list[BaseException] = [client_error("InternalError", 500) for _ in range(UNIT_ATTEMPTS + 2)]
    calls, unit = _failing(errors)
    with pytest.raises(ClientError, match="InternalError"):
        _run(unit)
    assert len(calls) == UNIT_ATTEMPTS


@pytest.mark.parametrize("error", [client_error("AccessDenied", 403), FatalError("bad input"), NoCredentialsError()])
def test_a_fatal_or_unreachable_failure_is_not_tried_again(error: BaseException) -> None:
    calls, unit = _failing([error])
    with pytest.raises(type(error)):
        _run(unit)
    assert len(calls) == 1
