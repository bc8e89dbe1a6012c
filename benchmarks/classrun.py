"""Grading a class: units per minute with 1 worker and with 2 (issue 17).

A synthetic class of one assignment (default 01_backprop): ``students``
submissions cycling through the solution, the blank release, a partial one
(the first half of the answers filled) and a wrong one (every answer
filled, with its additions turned into subtractions, so that most parts
fail). Each submission is complete as a student hands it in (demos and
all). The class is graded twice by ``python -m autograder autograde``'s
own code (:func:`autograder.grading.coordinator.autograde`), with a local
Dask cluster of 1 worker and then of 2, each into a fresh state folder
and gradebook, after one warm-up of the Numba cache that both share.

Reported: units per minute and the speed-up, and per unit (medians) the
kernel start, the notebook's cells, the trusted re-check, and the overhead
(the unit's time on its worker but the cells). The trusted session is
prepared once per worker and assignment (it proves itself on the solution):
shown apart, and amortised over the class in the overhead.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEEDUP_TARGET, OVERHEAD_TARGET = 1.7, 2.0
KINDS = ("solution", "blank", "partial", "wrong")
SOLUTION_LINES = ("### BEGIN SOLUTION", "### END SOLUTION")


def _answer_cells(nb):
    return [
        cell
        for cell in nb.cells
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution")
    ]


def _class(course: Path, assignment: str, submissions: Path, students: int) -> None:
    """Write the synthetic submissions: student ``s000``... cycling KINDS."""
    import nbformat

    name = f"{assignment}.ipynb"
    solution = nbformat.read(course / "solutions" / assignment / name, 4)
    answers = [
        "\n".join(
            line
            for line in cell.source.splitlines()
            if line.strip() not in SOLUTION_LINES
        )
        for cell in _answer_cells(solution)
    ]
    for index in range(students):
        kind = KINDS[index % len(KINDS)]
        nb = nbformat.read(course / "notebooks" / assignment / name, 4)
        cells = _answer_cells(nb)
        for position, (cell, answer) in enumerate(zip(cells, answers, strict=True)):
            if kind == "solution":
                cell.source = answer
            elif kind == "partial" and position < len(cells) // 2:
                cell.source = answer
            elif kind == "wrong":
                cell.source = answer.replace(" + ", " - ")
        folder = submissions / f"s{index:03d}" / assignment
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / name)
        (folder / "timestamp.txt").write_text("2025-03-01 11:30:00.000000 UTC")


def _grade(course: Path, submissions: Path, state: Path, workers: int):
    from autograder.grading.coordinator import autograde
    from autograder.pipeline import prepare_environment

    os.environ["AUTOGRADER_STATE_DIR"] = str(state)
    prepare_environment(course)
    return autograde(course, submissions, None, say=lambda line: None, workers=workers)


def measure(students: int = 40, assignment: str = "01_backprop") -> dict:
    """Grade the synthetic class with 1 worker and with 2: the results."""
    from autograder.grading.warmup import warm_numba_cache

    saved = os.environ.get("AUTOGRADER_STATE_DIR")
    runs = {}
    with tempfile.TemporaryDirectory(prefix="class-bench-") as tmp:
        base = Path(tmp)
        course = base / "course"
        shutil.copytree(
            ROOT / "solutions" / assignment, course / "solutions" / assignment
        )
        env = dict(os.environ, AUTOGRADER_STATE_DIR=str(base / "release-state"))
        command = [sys.executable, "-m", "autograder", "--root", str(course)]
        subprocess.run([*command, "release", assignment], check=True, env=env)
        _class(course, assignment, base / "submitted", students)
        warm_numba_cache()
        try:
            for workers in (1, 2):
                runs[workers] = _grade(
                    course, base / "submitted", base / f"state-{workers}", workers
                )
                print(
                    f"  graded {students} students with {workers} worker(s)", flush=True
                )
        finally:
            if saved is None:
                os.environ.pop("AUTOGRADER_STATE_DIR", None)
            else:
                os.environ["AUTOGRADER_STATE_DIR"] = saved
    return {"students": students, "assignment": assignment, "runs": runs}


def _per_unit(result) -> dict[str, float]:
    timings = result.timings
    steps = ("kernel_start", "execution", "recheck", "total")
    row = {s: statistics.median(getattr(t, s) for t in timings) for s in steps}
    sessions = sum(t.session for t in timings)
    row["session"] = max(t.session for t in timings)
    # the unit's time on its worker but the cells, the sessions amortised
    overheads = [t.total - t.session - t.execution for t in timings]
    row["overhead"] = statistics.median(overheads) + sessions / len(timings)
    row["rate"] = 60 * len(timings) / result.seconds
    return row


def section(measured: dict) -> list[str]:
    runs = measured["runs"]
    rows = {workers: _per_unit(result) for workers, result in runs.items()}
    lines = [
        f"## Grading a class: {measured['students']} submissions of "
        f"{measured['assignment']} (issue 17)",
        "",
        "| workers | wall s | units/min | kernel start s | cells s | re-check s "
        "| unit s | trusted session s (once per worker) | overhead s per unit |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for workers, row in rows.items():
        lines.append(
            f"| {workers} | {runs[workers].seconds:.0f} | {row['rate']:.1f} | "
            f"{row['kernel_start']:.2f} | {row['execution']:.2f} | "
            f"{row['recheck']:.2f} | {row['total']:.2f} | {row['session']:.1f} | "
            f"{row['overhead']:.2f} |"
        )
    return [*lines, ""]


def targets(measured: dict) -> list[str]:
    rows = {w: _per_unit(r) for w, r in measured["runs"].items()}
    speedup = rows[2]["rate"] / rows[1]["rate"]
    overhead = rows[1]["overhead"]
    return [
        f"- [{'x' if speedup >= SPEEDUP_TARGET else ' '}] 2 workers grade "
        f"{speedup:.2f}x the units per minute of 1 (target >= {SPEEDUP_TARGET:g}x)",
        f"- [{'x' if overhead <= OVERHEAD_TARGET else ' '}] per-unit overhead "
        f"{overhead:.2f} s with 1 worker (everything but the notebook's cells; "
        f"target <= {OVERHEAD_TARGET:g} s)",
    ]
