"""Every use of Great Expectations waits for a thread importing it (a night imports GE on a thread while it lands)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from pipelines.audit import ge_import
from pipelines.audit.engine import Validator
from pipelines.audit.suites import ge_expectation, load_suites


def _waits_for_the_import(use: Callable[[], Any]) -> None:
    importing, finish = threading.Event(), threading.Event()

    def importer() -> None:  # a thread in the middle of importing GE
        with ge_import._IMPORTING:
            importing.set()
            finish.wait(10)

    holder = threading.Thread(target=importer)
    holder.start()
    importing.wait(10)
    done: list[Any] = []
    user = threading.Thread(target=lambda: done.append(use()))
    user.start()
    user.join(0.3)
    assert not done, "used GE while another thread was importing it"
    finish.set()
    user.join(30)
    holder.join(10)
    assert done


@pytest.mark.parametrize("use", ["expectation", "validator"])
def test_a_use_of_ge_waits_for_the_thread_importing_it(use: str) -> None:
    spec = load_suites()["endpoints"].expectations[0]
    _waits_for_the_import(lambda: ge_expectation(spec, 0) if use == "expectation" else Validator())


_FRESH_PROCESS = """
import sys
from pipelines.audit.ge_import import great_expectations
from pipelines.audit.engine import Validator
from pipelines.audit.suites import load_suites
from pipelines.lake.schemas import TABLES

great_expectations()
schema = TABLES["endpoints"].schema
report = Validator().validate_frame(schema.empty_table().to_pandas(), schema.names, load_suites()["endpoints"])
assert report.ge_result is not None and report.outcomes, "GE validated nothing"
print("deferred still:", sorted(n for n in ("scipy.stats._stats_py", "altair.vegalite", "mistune.inline_parser") if n not in sys.modules))
from great_expectations.expectations.core import expect_column_kl_divergence_to_be_less_than as kl
print("entropy:", round(kl.stats.entropy([0.5, 0.5], [0.9, 0.1]), 6))
import scipy.stats
print("real:", scipy.stats.norm.cdf(0.0), type(sys.modules["scipy.stats"]).__name__)
from great_expectations.render.view import view
print("markdown:", view.mistune.markdown("*late*").strip(), type(sys.modules["mistune"]).__name__)
"""


def test_a_fresh_process_audits_without_importing_scipy_stats_altair_or_mistune_and_they_load_when_used() -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _FRESH_PROCESS], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "deferred still: ['altair.vegalite', 'mistune.inline_parser', 'scipy.stats._stats_py']",
        "entropy: 0.510826",  # GE's own reference to scipy.stats answers from the real module once used
        "real: 0.5 module",  # and a later `import scipy.stats` gets the real module
        "markdown: <p><em>late</em></p> module",  # the Data Docs' Markdown through GE's own reference
    ]
