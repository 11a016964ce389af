"""Shared fixtures: one local AWS stack (moto server + our CloudWatch fixes) per session, wiped per test, on a fixed clock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.clock import STACK_NOW

if TYPE_CHECKING:
    from pipelines.localstack.server import LocalStack

# Tests must never reach a real account by accident.
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def _stack() -> Iterator[LocalStack]:
    from pipelines.localstack.server import LocalStack

    with LocalStack(now=STACK_NOW) as stack:
        yield stack


@pytest.fixture()
def stack(_stack: LocalStack) -> LocalStack:
    """The running local stack, with all state (S3, Glue, metrics, ...) wiped and its clock back at STACK_NOW."""
    _stack.reset()
    _stack.clock.set(STACK_NOW)
    return _stack


@pytest.fixture()
def endpoint_url(stack: LocalStack) -> str:
    """The wiped local stack's endpoint."""
    return stack.endpoint_url
