"""Great Expectations, imported under one lock: a night imports it on a thread while it lands."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from types import ModuleType
from typing import Any

from pipelines.audit import field_copies
from pipelines.collector import settle

_IMPORTING = threading.RLock()

# Imported by GE's own import but used only inside expectations and renderers our suites never run (KL divergence,
# KS tests and their charts, in function bodies): 0.7 s of GE's 1.8 s import, paid by every process that audits.
# And mistune, the Markdown of the Data Docs' pages (~0.1 s compiling its patterns): loaded when a page is rendered.
DEFERRED = ("scipy.stats", "altair", "mistune")


class DeferredModule(ModuleType):
    """Stands in for a module until something uses it, then imports it and answers from it from then on.

    (importlib's LazyLoader would not do: the import machinery itself touches the module's attributes, which
    loads it, while GE imports.)"""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__spec__ = importlib.util.find_spec(name)  # importlib.util.find_spec(name) keeps working
        self._real: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__") and attribute.endswith("__"):
            raise AttributeError(attribute)  # import-machinery probes (__path__, __file__): not a use
        return getattr(self.load(), attribute)

    def load(self) -> ModuleType:
        with _IMPORTING:
            if self._real is None:
                if sys.modules.get(self.__name__) is self:
                    del sys.modules[self.__name__]
                self._real = importlib.import_module(self.__name__)
            return self._real


def great_expectations() -> ModuleType:
    """GE, whole. Python hands a module that one thread is still importing to a second importer half-initialised
    (to avoid a deadlock), and a half-imported GE has no expectations registered yet: every use of GE asks here
    first, so one thread imports it and the others wait for all of it."""
    with _IMPORTING:
        if "great_expectations" not in sys.modules:
            for name in DEFERRED:
                if name not in sys.modules:
                    sys.modules[name] = DeferredModule(name)
            field_copies.install()  # pydantic v1 copies its models' fields: a quarter of GE's import, made cheaper
        import great_expectations as gx

        settle("great_expectations")  # its classes and registries live as long as the process
        return gx
