"""pipelines/collector.py: what exists at a settle leaves the collector's walks, once per reason, and all at exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import atexit, gc
    from pipelines.collector import settle
    before = gc.get_freeze_count()
    kept = [[i] for i in range(10_000)]  # containers the collector tracks
    settle("imports")
    first = gc.get_freeze_count()
    more = [[i] for i in range(10_000)]
    settle("imports")  # the same reason again: nothing more is frozen
    again = gc.get_freeze_count()
    settle("great_expectations")
    other = gc.get_freeze_count()
    print(first - before >= 10_000, again == first, other - again >= 10_000, atexit._ncallbacks())
    """
)


def test_each_reason_freezes_what_exists_once_and_exit_is_registered_once() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    frozen_first, second_is_noop, other_reason_freezes, callbacks = done.stdout.split()
    assert (frozen_first, second_is_noop, other_reason_freezes) == ("True", "True", "True")
    baseline = subprocess.run(
        [sys.executable, "-c", "import atexit, pipelines.collector; print(atexit._ncallbacks())"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(callbacks) == int(baseline.stdout) + 1  # gc.freeze at exit, registered by the first settle only
