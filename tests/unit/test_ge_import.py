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
