"""What went wrong, and what to do now: every error the pipeline meets, sorted at the AWS boundary.

One classifier, so the CLI, the night and the retries agree: RETRIABLE (throttling, 5xx, timeouts,
reset connections: botocore's adaptive retries first, then the unit of work may be tried again),
FATAL (access denied, a missing resource, a request AWS refuses: fatal for its source, retrying will
not help), SKIPPABLE (one object that cannot be read while the rest lands), UNREACHABLE (no
credentials, credentials refused, AWS or the emulator not answering: nothing can work), and CONFIG
(bad configuration or usage). Exit codes follow the kind; each message is one line with the action.
"""

from __future__ import annotations

from enum import StrEnum

import tenacity
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProxyConnectionError,
    ReadTimeoutError,
    SSLError,
)

from pipelines.errors import ConfigError, PipelineError, RetriableError
from pipelines.logs import get_logger

_log = get_logger(__name__)


class Kind(StrEnum):
    RETRIABLE = "retriable"
    FATAL = "fatal"
    SKIPPABLE = "skippable"
    UNREACHABLE = "unreachable"
    CONFIG = "config"


# Exit codes of every command: 0 all published, 1 something held back or failed, 2 bad config or usage,
# 3 cannot reach AWS or no credentials.
EXIT_CODES = {Kind.RETRIABLE: 1, Kind.FATAL: 1, Kind.SKIPPABLE: 1, Kind.CONFIG: 2, Kind.UNREACHABLE: 3}

THROTTLED = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
        "LimitExceededException",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
TRANSIENT = frozenset(
    {"InternalError", "InternalFailure", "InternalServerError", "ServiceUnavailable", "RequestTimeout", "RequestTimeoutException"}
)
REFUSED_CREDENTIALS = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "AuthFailure",
        "InvalidAccessKeyId",
        "InvalidToken",
    }
)
MISSING_OBJECT = frozenset({"NoSuchKey", "404"})


def error_code(error: BaseException) -> str:
    return str(error.response.get("Error", {}).get("Code", "")) if isinstance(error, ClientError) else ""


def classify(error: BaseException) -> Kind:
    """The kind of `error`, looking through our own wrappers to the AWS error that caused them."""
    cause = _root(error)
    if isinstance(error, ConfigError) or isinstance(cause, NoRegionError):
        return Kind.CONFIG
    if isinstance(cause, NoCredentialsError | PartialCredentialsError | CredentialRetrievalError):
        return Kind.UNREACHABLE
    if isinstance(cause, EndpointConnectionError | ConnectTimeoutError | ProxyConnectionError | SSLError):
        return Kind.UNREACHABLE
    if isinstance(cause, ReadTimeoutError | ConnectionClosedError):
        return Kind.RETRIABLE
    if isinstance(cause, ClientError):
        code = error_code(cause)
        status = int(cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in REFUSED_CREDENTIALS:
            return Kind.UNREACHABLE
        if code in THROTTLED or code in TRANSIENT or status >= 500:
            return Kind.RETRIABLE
        if code in MISSING_OBJECT:
            return Kind.SKIPPABLE
        return Kind.FATAL
    if isinstance(cause, RetriableError):
        return Kind.RETRIABLE
    return Kind.FATAL


def _root(error: BaseException) -> BaseException:
    """The AWS error behind ours (we chain causes), or the error itself."""
    seen = error
    while isinstance(seen, PipelineError) and seen.__cause__ is not None:
        seen = seen.__cause__
    return seen


def describe(error: BaseException) -> tuple[int, str]:
    """(exit code, one line saying what happened and what to do) for an error that ended a command."""
    kind, cause = classify(error), _root(error)
    code = error_code(cause)
    if isinstance(cause, NoCredentialsError | PartialCredentialsError | CredentialRetrievalError):
        text = f"no AWS credentials ({cause}): set AWS_PROFILE or run `aws sso login`; for the local stack set endpoint_url"
    elif code in REFUSED_CREDENTIALS:
        text = f"AWS refused the credentials ({code}): refresh them (`aws sso login`) or check AWS_PROFILE"
    elif kind is Kind.UNREACHABLE:
        where = getattr(cause, "kwargs", {}).get("endpoint_url", "AWS")
        text = f"cannot reach {where}: check the network and the region; for endpoint_url, is the local stack running?"
    elif isinstance(cause, NoRegionError):
        text = "no AWS region: set lake.region in the config (or AWS_REGION)"
    elif isinstance(cause, ClientError) and (code.startswith("AccessDenied") or code == "UnauthorizedOperation"):
        operation = getattr(cause, "operation_name", "?")
        text = f"access denied to {operation}: {_message(cause)}; grant it to the role the pipeline runs as (see glue_jobs/)"
    elif kind is Kind.RETRIABLE:
        text = f"AWS kept failing ({code or type(cause).__name__}) after retries: {_message(cause)}; run again later"
    elif isinstance(error, PipelineError | BotoCoreError | ClientError):
        text = str(error)
    else:
        text = f"unexpected {type(error).__name__}: {error} (--log-level DEBUG shows where)"
    return EXIT_CODES[kind], text


def _message(error: BaseException) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Message") or error)


# A unit of work (an account x region's extract, a partition's audit and switch, a run record) is tried again
# this many times in all when it fails with a retriable error after botocore's own retries are spent.
UNIT_ATTEMPTS = 3


def unit_retries(what: str, *, local: bool, attempts: int = UNIT_ATTEMPTS) -> tenacity.Retrying:
    """Bounded retries of one unit of work, only for RETRIABLE errors; the last error is raised as it was.

        for attempt in unit_retries("cloudwatch_metrics 111111111111/us-east-1", local=...):
            with attempt:
                rows = extract(...)

    In AWS the waits are long enough for a throttled API to recover (botocore has already backed off
    up to its own cap); against the local stack they are short, as botocore's are there.
    """
    wait = (  # tenacity's jitter is up to 1 s unless told: locally it would be most of each wait
        tenacity.wait_exponential_jitter(initial=0.05, max=0.5, jitter=0.05)
        if local
        else tenacity.wait_exponential_jitter(initial=5, max=60)
    )
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(lambda error: classify(error) is Kind.RETRIABLE),
        stop=tenacity.stop_after_attempt(attempts),
        wait=wait,
        reraise=True,
        before_sleep=lambda state: _log.warning(
            "unit_retry",
            unit=what,
            attempt=state.attempt_number,
            of=attempts,
            error=str(state.outcome.exception()) if state.outcome else "",
        ),
    )
