"""GE's kwarg helpers, reading the configuration once: the same answers as GE's own on every suite's expectations."""

from __future__ import annotations

import great_expectations as gx

from pipelines.audit import ge_speedups
from pipelines.audit.engine import RESULT_FORMAT, Validator
from pipelines.audit.suites import ge_expectation, load_suites

RUNTIMES = (None, {}, RESULT_FORMAT, {"catch_exceptions": False, "result_format": "COMPLETE"})


def test_every_helper_answers_as_ges_own_on_every_expectation_of_every_suite() -> None:
    original = ge_speedups.ORIGINALS
    checked = 0
    for table, suite in load_suites().items():
        for i, spec in enumerate(suite.expectations):
            where = f"{table} #{i} {spec.type}"
            e = ge_expectation(spec, i)
            assert ge_speedups._get_domain_kwargs(e) == original["_get_domain_kwargs"](e), where
            assert ge_speedups._get_success_kwargs(e) == original["_get_success_kwargs"](e), where
            for runtime in RUNTIMES:
                assert ge_speedups._get_runtime_kwargs(e, runtime) == original["_get_runtime_kwargs"](e, runtime), where
            for key in sorted({*e.domain_keys, *e.success_keys, *e.runtime_keys, "row_condition"}):
                assert ge_speedups._get_success_kwarg(e, key, "d") == original["_get_success_kwarg"](e, key, "d"), where
            checked += 1
    assert checked > 300


def test_installed_by_the_validator_on_the_pinned_version_only() -> None:
    Validator()
    assert gx.__version__ == ge_speedups.PINNED  # a new GE: read its helpers again before moving PINNED
    expectation = gx.expectations.ExpectColumnValuesToNotBeNull(column="a")
    assert type(expectation)._get_runtime_kwargs is ge_speedups._get_runtime_kwargs
    assert not ge_speedups.install("0.0.0")
