"""Python's cyclic garbage collector in a process that imports a lot once, then moves data.

Every full collection walks every object the collector tracks. After the imports a night needs (boto3, pandas,
pyarrow, awswrangler, and Great Expectations: ~60 expectation classes as pydantic models, fluent datasources) a
process holds ~300,000 of them, all alive until it ends: a 10 M-point night made six full collections (~0.9 CPU-s)
and the interpreter's last one at exit ~1 CPU-s more, walking them again to find almost nothing.

`settle` moves what exists into the collector's permanent generation (gc.freeze) once such imports are done; the
first settle also freezes everything at exit, so the last collection walks nothing (the operating system takes
the memory back). The price: cyclic garbage that exists at a settle is never collected. Each reason settles once
per process, right after its imports, so that is small and bounded, whatever a process runs afterwards.
"""

from __future__ import annotations

import atexit
import gc
import threading

_SETTLED: set[str] = set()
_LOCK = threading.Lock()


def settle(reason: str) -> None:
    """Leave what exists now out of every later collection (once per `reason` per process)."""
    with _LOCK:
        if reason in _SETTLED:
            return
        if not _SETTLED:
            atexit.register(gc.freeze)
        _SETTLED.add(reason)
        gc.freeze()
