"""Python's cyclic garbage collector in a process that imports a lot once, then moves data.

Every full collection walks every object the collector tracks. After the imports a night needs (boto3, pandas,
pyarrow, awswrangler, and Great Expectations: ~60 expectation classes as pydantic models, fluent datasources) a
process holds ~300,000 of them, all alive until it ends: a 10 M-point night made six full collections (~0.9 CPU-s)
and the interpreter's last one at exit ~1 CPU-s more, walking them again to find almost nothing.

`settle` moves what exists into the collector's permanent generation (gc.freeze) once such imports are done; the
first settle also freezes everything at exit, so the last collection walks nothing (the operating system takes
the memory back). The price: cyclic garbage that exists at a settle is never collected. Each reason settles once
per process, right after its imports, so that is small and bounded, whatever a process runs afterwards.

The first settle also lets the young generation grow to `YOUNG` objects before it is collected (Python's default
is 700): what a night allocates (GE's expectations and metrics, botocore's requests, the local stack's state) kept
triggering collections, and every tenth of those a full one. A 3-night demo, alternating runs: 17 full collections
and ~2.7 CPU-s in the collector -> 5 and ~1.6 CPU-s, the whole demo 36.6 and 33.7 -> 32.4 and 30.4 CPU-s (peak RSS
763-837 MB either way); garbage in a cycle is freed a little later.
"""

from __future__ import annotations

import atexit
import gc
import threading

YOUNG = 20_000  # objects allocated (net) before the youngest generation is collected
_SETTLED: set[str] = set()
_LOCK = threading.Lock()


def settle(reason: str) -> None:
    """Leave what exists now out of every later collection (once per `reason` per process)."""
    with _LOCK:
        if reason in _SETTLED:
            return
        if not _SETTLED:
            atexit.register(gc.freeze)
            young, middle, old = gc.get_threshold()
            gc.set_threshold(max(young, YOUNG), middle, old)
        _SETTLED.add(reason)
        gc.freeze()
