"""Great Expectations, imported under one lock: a night imports it on a thread while it lands."""

from __future__ import annotations

import threading
from types import ModuleType

_IMPORTING = threading.RLock()


def great_expectations() -> ModuleType:
    """GE, whole. Python hands a module that one thread is still importing to a second importer half-initialised
    (to avoid a deadlock), and a half-imported GE has no expectations registered yet: every use of GE asks here
    first, so one thread imports it and the others wait for all of it."""
    with _IMPORTING:
        import great_expectations as gx

        return gx
