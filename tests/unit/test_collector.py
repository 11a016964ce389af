"""pipelines/collector.py: what exists at a settle leaves the collector's walks, once per reason, and all at exit; the
young generation grows."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from pipelines.collector import YOUNG

SCRIPT = textwrap.dedent(
    """
    import atexit, gc
    from pipelines.collector import settle
    before, young = gc.get_freeze_count(), gc.get_threshold()[0]
    kept = [[i] for i in range(10_000)]  # containers the collector tracks
    settle("imports")
    first = gc.get_freeze_count()
    more = [[i] for i in range(10_000)]
    settle("imports")  # the same reason again: nothing more is frozen
    again = gc.get_freeze_count()
    settle("great_expectations")
    other = gc.get_freeze_count()
    print(first - before >= 10_000, again == first, other - again >= 10_000, young, gc.get_threshold()[0], atexit._ncallbacks())
    """
)


def test_each_reason_freezes_what_exists_once_and_exit_is_registered_once() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    frozen_first, second_is_noop, other_reason_freezes, young_before, young_after, callbacks = done.stdout.split()
    assert (frozen_first, second_is_noop, other_reason_freezes) == ("True", "True", "True")
    assert (int(young_before), int(young_after)) == (700, YOUNG)  # Python's default, then the settled process's
    baseline = subprocess.run(
        [sys.executable, "-c", "import atexit, pipelines.collector; print(atexit._ncallbacks())"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(callbacks) == int(baseline.stdout) + 1  # gc.freeze at exit, registered by the first settle only
