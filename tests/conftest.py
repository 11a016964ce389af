"""Shared fixtures: one local AWS stack (moto server + our CloudWatch fixes) per session, wiped per test, on a fixed clock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

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


def pytest_configure(config: pytest.Config) -> None:
    """Each test process settles its collector as a night's process does (pipelines/collector.py) once pytest and
    the test tools are imported: a worker keeps the local stack's state, moto's and botocore's models and GE's
    registries alive all run, and the collector walked them again every few seconds (in test_nightly and
    test_audit_gate, 30 full collections and 3.4 CPU-s in the collector -> 5 and 1.7 CPU-s)."""
    from pipelines.collector import settle

    settle("test process")


# Collection order is the order pytest-xdist hands modules out (`--no-loadscope-reorder`): the long
# whole-night modules first, the many short unit modules last, where they fill both workers' tails.
_ORDER = ("tests/e2e/", "tests/integration/", "tests/localstack/", "tests/unit/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {prefix: i for i, prefix in enumerate(_ORDER)}
    items.sort(key=lambda item: next((r for p, r in rank.items() if item.nodeid.startswith(p)), len(rank)))


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadscope` with one unit of work per module, and one for all of tests/e2e: the e2e modules share
    one `mlmon demo` run (tests/e2e/conftest.py), made once per worker that runs any of them. (xdist's
    `loadgroup` marks would say the same, but pytest 9 no longer lets xdist rename the tests it groups.)"""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "tests/e2e/" if module.startswith("tests/e2e/") else module

    return ModuleScheduling(config, log)


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
