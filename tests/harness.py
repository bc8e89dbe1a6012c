"""What the slow test groups share: their time limits, and a line as they start.

No test asserts how long something took (that is the benchmarks' business,
``python -m benchmarks``). A time limit in a test exists only to stop a real
hang, so it sits far above anything a slow machine with both cores busy
needs: the heaviest cell of a notebook takes seconds on a quiet machine and
a few times that under load, never minutes.

The one exception is a test that hangs on purpose (an infinite loop, a
flood of output): the hang costs its whole limit, once in nbgrader's kernel
and once in the trusted re-check, so a generous limit there would add
minutes to the suite. Those tests get ``HANG_SECONDS`` instead, and run
only work that stays far below it: the graded code of a notebook (its
answers and checks, milliseconds each) and its imports (a few seconds on a
busy machine), never a training or a demo.
"""

from __future__ import annotations

import pytest

# A cell of a notebook, a step of the trusted re-check or a subprocess in a
# test: only a hang comes near it. The slowest cell of any notebook took
# 33 s with the machine overloaded (load average 8-11 on 2 cores).
CELL_SECONDS = 300

# A cell or step that hangs on purpose, in a notebook that runs only its
# graded code (see the module docstring); the hang is stopped after this.
# The rest of such a notebook took at most 1.8 s a cell with the machine
# overloaded (load average 8-11 on 2 cores), but the setup cell of another
# notebook took 7.7 s there: room for a heavier setup. The suite pays this
# five times (the looper in nbgrader and in its re-check, two cases of the
# adversarial corpus, the crash-and-resume test).
HANG_SECONDS = 20


def announce(config: pytest.Config, text: str) -> None:
    """Print ``text`` on its own line now, even while pytest captures output.

    For the groups that work for minutes before their first test reports
    (the shared course run, the re-check of the adversarial corpus), so
    that a quiet terminal says what is happening rather than nothing.
    """
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:  # pytest running without a terminal (-p no:terminal)
        return
    if capture is None:  # -p no:capture: nothing to step around
        reporter.write_line(text)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(text)
