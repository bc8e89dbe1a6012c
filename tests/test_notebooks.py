"""Every assignment's notebooks, executed headless.

Parametrised over the folders of ``solutions/``, so a new assignment is
picked up without touching this file:

* the solution notebook runs without an error and every test cell passes
  nbgrader's Validator (while autograding, hidden tests are left to the
  trusted re-check, which must give the solution full marks:
  ``test_pipeline.py``); how long it took is printed, never asserted (the
  machine's speed is the benchmarks' business);
* the student release runs with errors only where students must fill in
  (every error is the ``NotImplementedError`` of an unfilled answer);
* the notebook agrees with its check declarations (``autograder.lint``).

The graded runs are not executed here: the shared course run
(``course_run.graded``) autogrades the solution and the untouched release
of every assignment as two fake students, with nbgrader's executor
(nbclient), and these tests read the executed notebooks it leaves. Running
them once instead of twice halves the suite's time. Autograde skips the
declared demo cells (``autograder/demo_cells.py``) and the release has no
claim checks, so each solution notebook also runs once in full, as its
author runs it: every demo, and every claim check, which asserts that the
prose is true of the notebook's own output (``full_runs.py``, started in
the background when the session starts).
"""

from __future__ import annotations

import os
import sys
from datetime import datetime

import nbformat
import pytest
from fake_class import ASSIGNMENTS, ROOT
from full_runs import FullRun
from full_runs import results as full_runs_results
from harness import announce

pytestmark = pytest.mark.slow


def _executed(graded, assignment: str, student: str):
    """The notebook as nbgrader's autograde executed it for ``student``."""
    path = (
        graded["states"][assignment]
        / "autograded"
        / student
        / assignment
        / f"{assignment}.ipynb"
    )
    assert path.is_file(), f"autograde left no executed notebook at {path}"
    return nbformat.read(path, as_version=4)


def _seconds(nb) -> float:
    """Wall time from the first cell's start to the last cell's end.

    nbclient records when each cell was sent to the kernel and when its
    reply came back (``metadata.execution``).
    """
    stamps = [
        datetime.fromisoformat(timing[key].replace("Z", "+00:00"))
        for cell in nb.cells
        if cell.cell_type == "code"
        for timing in [cell.metadata.get("execution", {})]
        for key in ("iopub.execute_input", "shell.execute_reply")
        if key in timing
    ]
    assert stamps, "the executed notebook carries no execution timings"
    return (max(stamps) - min(stamps)).total_seconds()


def _errors(nb) -> list[tuple[int, str, str]]:
    return [
        (index, output.get("ename", ""), output.get("evalue", ""))
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]


def _restore_skipped_demos(nb, assignment: str) -> None:
    """Put back the source's text of the cells autograde skipped.

    They are locked cells, replaced by a comment (:mod:`autograder.demo_cells`):
    nbgrader's Validator would list them as changed. They did not run and
    nothing graded reads them, so the verdict is the same.
    """
    from autograder.demo_cells import SKIPPED_SOURCE
    from autograder.source import grade_id

    path = ROOT / "solutions" / assignment / f"{assignment}.ipynb"
    source = nbformat.read(path, as_version=4)
    by_id = {grade_id(c): c.source for c in source.cells if grade_id(c)}
    for cell in nb.cells:
        if cell.source == SKIPPED_SOURCE and grade_id(cell) in by_id:
            cell.source = by_id[grade_id(cell)]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_runs_and_passes_the_validator(assignment, graded, tmp_path):
    from nbgrader.preprocessors import CheckCellMetadata
    from nbgrader.validator import Validator

    nb = _executed(graded, assignment, "solution")
    seconds = _seconds(nb)
    print(f"{assignment}: solution notebook executed in {seconds:.1f} s")
    assert not _errors(nb)
    # nbgrader's verdict on the executed notebook (it does not re-execute).
    _restore_skipped_demos(nb, assignment)
    path = tmp_path / f"{assignment}.ipynb"
    nbformat.write(nb, path)
    validator = Validator()
    validator.preprocessors = [CheckCellMetadata]
    results = validator.validate(str(path))
    assert results == {}, results


@pytest.fixture(scope="module")
def full_runs(request) -> dict[str, FullRun]:
    """Every solution notebook executed in full (tests/full_runs.py)."""
    announce(request.config, "solution notebooks in full: demos and claim checks")
    return full_runs_results()


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_runs_in_full(assignment, full_runs):
    """Demos and claim checks included: no cell raises (a claim check that
    fails is prose no longer true of the notebook's output)."""
    run = full_runs[assignment]
    assert run.returncode == 0, run.output
    nb = nbformat.read(run.notebook, as_version=4)
    print(f"{assignment}: solution notebook in full in {_seconds(nb):.1f} s")
    assert not _errors(nb)
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code")


def test_interactive_widgets_only_where_someone_can_use_them(monkeypatch):
    """The notebooks' switch: ipywidgets in JupyterLab, None when headless."""
    import ipywidgets

    from autograder.notebook import EDITOR_SESSION_ENV, interactive_widgets

    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv(EDITOR_SESSION_ENV, raising=False)
    assert interactive_widgets() is None  # nbconvert --execute, nbclient
    monkeypatch.setenv(EDITOR_SESSION_ENV, "01_backprop.ipynb")  # JupyterLab
    assert interactive_widgets() is ipywidgets
    for mode in ("autograde", "validate"):
        monkeypatch.setenv("NBGRADER_EXECUTION", mode)
        assert interactive_widgets() is None, mode
    monkeypatch.delenv("NBGRADER_EXECUTION")
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import fails
    assert interactive_widgets() is None


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_graded_runs_make_no_widgets(assignment, graded):
    """Headless graded runs show the static figures and open no widget.

    Widget messages can stall nbclient until the cell timeout (180 s seen
    here, jupyter/nbclient#312), so the notebooks skip their controls when
    nbgrader executes them.
    """
    for student in ("solution", "untouched"):
        nb = _executed(graded, assignment, student)
        widget_cells = [
            index
            for index, cell in enumerate(nb.cells)
            for output in cell.get("outputs", [])
            if "application/vnd.jupyter.widget-view+json" in output.get("data", {})
        ]
        assert not widget_cells, (
            f"{assignment} ({student}): cells {widget_cells} displayed a widget "
            "while nbgrader executed them; guard them with `if widgets is not None:`"
        )


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_fails_only_where_students_fill_in(assignment, graded):
    if not (ROOT / "notebooks" / assignment).is_dir():
        pytest.fail(
            f"notebooks/{assignment} missing: run `python -m autograder release`"
        )
    nb = _executed(graded, assignment, "untouched")
    print(f"{assignment}: student notebook executed in {_seconds(nb):.1f} s")
    errors = _errors(nb)
    assert errors, "the untouched release raised nothing: are the answers stubbed?"
    unexpected = [e for e in errors if e[1] != "NotImplementedError"]
    assert not unexpected, (
        "errors other than the NotImplementedError of an unfilled answer "
        f"(cell index, type, message): {unexpected}"
    )
    # Every autograded test cell fails in the untouched release (written
    # answers, graded by hand, are nbgrader "grade" cells too, but no tests).
    failing = {index for index, _, _ in errors}
    for index, cell in enumerate(nb.cells):
        nbgrader = cell.get("metadata", {}).get("nbgrader", {})
        if nbgrader.get("grade") and not nbgrader.get("solution"):
            assert index in failing, f"test cell {index} passes without an answer"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_notebook_agrees_with_its_declarations(assignment):
    from autograder.lint import lint_assignment

    assert lint_assignment(ROOT, assignment) == []


def test_every_assignment_folder_has_one_notebook_named_after_it():
    for assignment in ASSIGNMENTS:
        notebooks = sorted(
            p.name for p in (ROOT / "solutions" / assignment).glob("*.ipynb")
        )
        assert notebooks == [f"{assignment}.ipynb"], (assignment, notebooks)
    assert os.path.isdir(ROOT / "autograder" / "assignments")
