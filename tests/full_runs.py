"""Every solution notebook executed in full, in the background.

Autograde skips the declared demo cells (``autograder/demo_cells.py``) and
the release has no claim checks, so the shared course run never executes
them. Each solution notebook therefore runs here once in full, as its
author runs it: every demo, and every claim check, which asserts that the
prose is true of the notebook's own output (``test_notebooks.py`` reads the
results).

The runs start as soon as pytest has collected a test that needs them
(``conftest.pytest_collection_finish``), one notebook at a time in a thread
of their own: the unit tests that pytest runs first keep one core busy, and
these use the other, instead of adding their minute to the suite's time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from fake_class import ASSIGNMENTS, ROOT
from harness import CELL_SECONDS

__all__ = ["FullRun", "start", "results", "cleanup", "WANTED_BY"]

# The test that reads the runs: collecting it starts them.
WANTED_BY = "test_solution_runs_in_full"
# Only a real hang comes near it (the longest notebook takes about 20 s).
NOTEBOOK_SECONDS = 900

# One notebook, executed in a process of its own: source, target, folder.
_EXECUTE_IN_FULL = """
import sys
import nbformat
from nbclient import NotebookClient

source, target, folder, timeout = sys.argv[1:5]
nb = nbformat.read(source, as_version=4)
NotebookClient(
    nb, timeout=int(timeout), allow_errors=True, kernel_name="python3",
    resources={"metadata": {"path": folder}},
).execute()
nbformat.write(nb, target)
"""


@dataclass(frozen=True)
class FullRun:
    """One notebook's run: the executed copy, or what went wrong."""

    notebook: Path
    returncode: int
    output: str


_started: Future | None = None
_folder: tempfile.TemporaryDirectory | None = None


def _execute(assignment: str, base: Path) -> FullRun:
    source = ROOT / "solutions" / assignment
    target = base / f"{assignment}.ipynb"
    env = dict(os.environ, AUTOGRADER_STATE_DIR=str(base / "state" / assignment))
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _EXECUTE_IN_FULL,
             str(source / f"{assignment}.ipynb"), str(target), str(source),
             str(CELL_SECONDS)],
            env=env, capture_output=True, text=True, timeout=NOTEBOOK_SECONDS,
        )  # fmt: skip
    except subprocess.TimeoutExpired as err:
        return FullRun(target, -1, f"no end after {err.timeout} s")
    return FullRun(target, proc.returncode, proc.stdout + proc.stderr)


def _execute_all(base: Path) -> dict[str, FullRun]:
    return {assignment: _execute(assignment, base) for assignment in ASSIGNMENTS}


def start() -> None:
    """Start the runs (once) in a background thread."""
    global _started, _folder
    if _started is not None:
        return
    _folder = tempfile.TemporaryDirectory(prefix="full-runs-")
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="full-runs")
    _started = pool.submit(_execute_all, Path(_folder.name))
    pool.shutdown(wait=False)


def results() -> dict[str, FullRun]:
    """Every notebook's run, waiting for the runs if need be."""
    start()
    return _started.result(timeout=NOTEBOOK_SECONDS * len(ASSIGNMENTS))


def cleanup() -> None:
    """Wait for the runs to end, then remove their folder."""
    if _started is not None:
        _started.exception()  # waits; a failure was the tests' to report
    if _folder is not None:
        _folder.cleanup()
