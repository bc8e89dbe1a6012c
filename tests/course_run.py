"""The shared course run: one autograde of fake students over every assignment.

Executing notebooks is the expensive part of the suite, so it happens once:
the ``graded`` session fixture (registered in ``conftest.py``) autogrades the
solution notebook and the untouched release of every assignment, plus the
adversarial students of 01_backprop, and both ``test_pipeline.py`` (grades,
feedback, export) and ``test_notebooks.py`` (what the executed notebooks
contain, how long they took) read its results.

The students, and the course they take, are in ``tests/fake_class.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fake_class import ASSIGNMENTS, FIRST, LOOPER, ROOT, write_submissions
from harness import CELL_SECONDS, HANG_SECONDS, announce


def _cli(*args, state: Path, root: Path = ROOT, check: bool = True):
    env = dict(os.environ, AUTOGRADER_STATE_DIR=str(state))
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "--root", str(root), *args],
        capture_output=True,
        text=True,
        env=env,
    )
    proc.seconds = time.perf_counter() - start
    return proc


def _halves(assignments: list[str]) -> list[list[str]]:
    """Two groups of similar cost.

    01 carries eight students (the infinite loop costs a timeout twice, in
    nbgrader and in the re-check), which takes about as long as the two
    students of six other assignments (measured: 01 140 s, the other seven
    210 s with their re-checks, feedback and export); one more assignment
    goes with it.
    """
    rest = [a for a in assignments if a != FIRST]
    if FIRST in assignments:
        return [g for g in ([FIRST, *rest[-1:]], rest[:-1]) if g]
    return [g for g in (rest[1::2], rest[0::2]) if g]


def _grade_group(
    course: Path, submissions: Path, hang: Path, state: Path, group: list[str]
):
    """references, autograde, feedback and export for one group, in order.

    Every autograde run has the generous cell timeout but the looper's (the
    submissions in ``hang``), whose infinite loop costs its timeout twice,
    in nbgrader and in the trusted re-check: it gets the short one.
    """
    args = [sys.executable, "-m", "autograder", "--root", str(course)]
    env = dict(os.environ, AUTOGRADER_STATE_DIR=str(state))

    def run(*more):
        return subprocess.run([*args, *more], env=env, text=True, capture_output=True)

    def autograde(folder: Path, batch: list[str], timeout: int, log: str):
        # The integrity corpus (01's students) goes through two workers of
        # the Dask cluster; the rest through one (the other group runs
        # beside it on the second core): the same code path either way.
        workers = 2 if batch == [FIRST] and folder == submissions else 1
        proc = run(
            "autograde",
            str(folder),
            f"--timeout={timeout}",
            f"--workers={workers}",
            *[f"--assignment={a}" for a in batch],
        )
        (state / f"autograde-{log}.log").write_text(proc.stderr)
        return proc.returncode, proc.stdout

    start = time.perf_counter()
    out = {"references": run("references", *group), "autograde": {}, "hang": None}
    batches = [[FIRST], [a for a in group if a != FIRST]] if FIRST in group else [group]
    for batch in [b for b in batches if b]:
        result = autograde(submissions, batch, CELL_SECONDS, "-".join(batch))
        out["autograde"].update(dict.fromkeys(batch, result))
    if FIRST in group and (hang / LOOPER).is_dir():
        out["hang"] = autograde(hang, [FIRST], HANG_SECONDS, LOOPER)
    out["feedback"] = run("feedback")
    out["export"] = run("export", "-o", str(state / "grades.csv"))
    out["seconds"] = time.perf_counter() - start
    return out


@pytest.fixture(scope="session")
def graded(tmp_path_factory, pytestconfig):
    """Autograde (two groups side by side), feedback and export, on a course copy."""
    announce(
        pytestconfig,
        f"shared course run: release, autograde, feedback and export of "
        f"{len(ASSIGNMENTS)} assignment(s) with fake students (minutes; the "
        "notebook, pipeline and integrity tests read it)",
    )
    base = tmp_path_factory.mktemp("pipeline")
    course = base / "course"
    shutil.copytree(ROOT / "solutions", course / "solutions")
    # The untouched release is made here by the release command (that the
    # committed notebooks/ equals it is the release --check test's business).
    release = _cli("release", *ASSIGNMENTS, state=base / "release-state", root=course)
    assert release.returncode == 0, release.stdout + release.stderr
    submissions, hang = base / "submitted", base / "submitted-hang"
    students = write_submissions(course, submissions, hang)

    groups = _halves(ASSIGNMENTS)
    states = [base / f"state{i}" for i in range(len(groups))]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        outs = list(
            pool.map(
                lambda pair: _grade_group(course, submissions, hang, *pair),
                zip(states, groups, strict=True),
            )
        )
    results = {
        "students": students,
        "course": course,
        "seconds": time.perf_counter() - start,
        "states": {
            a: state for state, g in zip(states, groups, strict=True) for a in g
        },
        "autograde": {a: r for out in outs for a, r in out["autograde"].items()},
        # (exit status, output) of the looper's own autograde run of FIRST
        "hang": next((out["hang"] for out in outs if out["hang"]), None),
        "references": [out["references"] for out in outs],
        "feedback": [out["feedback"] for out in outs],
        "export": [out["export"] for out in outs],
    }
    announce(
        pytestconfig,
        f"shared course run: {len(ASSIGNMENTS)} assignment(s) in "
        f"{results['seconds']:.1f} s ("
        + ", ".join(
            f"{'+'.join(g)} {out['seconds']:.0f} s"
            for g, out in zip(groups, outs, strict=True)
        )
        + ")",
    )
    return results
