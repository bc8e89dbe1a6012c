"""Declared demo cells (``autograde-skip``): skipped under autograde, never guessed.

* The preprocessor on small synthetic notebooks: what the source declares
  is skipped, whatever the submission's own tags say.
* Static, over every solution notebook: every tagged cell is a plain code
  cell and no cell that still runs under autograde reads what one made.
* Real: the shared course run autogrades every solution notebook with its
  demos skipped, and it must pass every test cell
  (``test_notebooks.test_solution_runs_and_passes_the_validator``); the
  demos and claim checks themselves run in full in
  ``test_notebooks.test_solution_runs_in_full``.
"""

from __future__ import annotations

import nbformat
import pytest
from fake_class import ASSIGNMENTS, ROOT
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.demo_cells import (
    SKIPPED_SOURCE,
    DemoDeclarationError,
    SkipDeclaredDemos,
    demo_problems,
)
from autograder.source import AUTOGRADE_SKIP_TAG, CLAIM_CHECKS_TAG

ASSIGNMENT, NOTEBOOK = "99_demo", "99_demo"
DEMO = "history = train(epochs=50)\nplot(history)"


def _role(grade_id: str, **role) -> dict:
    base = {"grade": False, "solution": False, "locked": True, "task": False}
    return {"nbgrader": {**base, **role, "grade_id": grade_id, "schema_version": 3}}


def _cell(source: str, grade_id: str, tags=(), **role):
    metadata = _role(grade_id, **role)
    if tags:
        metadata["tags"] = list(tags)
    return new_code_cell(source, metadata=metadata)


def _answer(source="def f(x):\n    return 2 * x", tags=()):
    return _cell(source, "f_answer", tags, solution=True, locked=False)


def _test(source='check("99_demo", "f", f)', tags=()):
    return _cell(source, "test_f", tags, grade=True, points=1)


def _source(*demo_tags) -> nbformat.NotebookNode:
    """A source notebook: prose, an answer, its test, a demo (tagged by
    ``demo_tags``) and a claim check."""
    return new_notebook(
        cells=[
            new_markdown_cell("Implement f."),
            _answer(),
            _test(),
            _cell(DEMO, "demo", demo_tags),
            new_code_cell("assert 0.9 < 1", metadata={"tags": [CLAIM_CHECKS_TAG]}),
        ]
    )


def _run(tmp_path, source, submission) -> nbformat.NotebookNode:
    """The submission after :class:`SkipDeclaredDemos`, with ``source`` the
    assignment's source notebook under ``tmp_path``."""
    folder = tmp_path / "solutions" / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(source, folder / f"{NOTEBOOK}.ipynb")
    step = SkipDeclaredDemos(source_directory=str(tmp_path / "solutions"))
    resources = {"nbgrader": {"assignment": ASSIGNMENT, "notebook": NOTEBOOK}}
    nb, _ = step.preprocess(submission, resources)
    return nb


def _skipped(nb) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if c.get("source") == SKIPPED_SOURCE]


# ------------------------------------------------------------ the preprocessor


def test_a_declared_demo_and_the_claim_check_are_skipped(tmp_path):
    submission = _source()  # the student's copy: no tag, outputs saved
    submission.cells[3].source += "\n\n  "  # trailing whitespace does not count
    submission.cells[3].outputs = [{"output_type": "stream", "name": "stdout"}]
    nb = _run(tmp_path, _source(AUTOGRADE_SKIP_TAG), submission)
    assert _skipped(nb) == [3, 4]
    assert nb.cells[3].outputs == [] and nb.cells[3].execution_count is None
    assert nb.cells[1].source == _answer().source  # answer and test untouched
    assert nb.cells[2].source == _test().source


def test_nothing_is_skipped_that_the_source_does_not_declare(tmp_path):
    submission = _source(AUTOGRADE_SKIP_TAG)  # the submission tags the demo
    nb = _run(tmp_path, _source(), submission)  # the source does not
    assert _skipped(nb) == [4]  # the claim check only


def test_a_submission_tagging_its_answer_or_test_skips_nothing_more(tmp_path):
    submission = _source(AUTOGRADE_SKIP_TAG)
    submission.cells[1] = _answer(tags=[AUTOGRADE_SKIP_TAG])
    submission.cells[2] = _test(tags=[AUTOGRADE_SKIP_TAG])
    # ... even one whose source is the demo's: an nbgrader cell always runs
    submission.cells.append(_answer(DEMO, tags=[AUTOGRADE_SKIP_TAG]))
    nb = _run(tmp_path, _source(AUTOGRADE_SKIP_TAG), submission)
    assert _skipped(nb) == [3, 4]
    assert nb.cells[5].source == DEMO


def test_an_edited_demo_runs_as_written(tmp_path):
    submission = _source(AUTOGRADE_SKIP_TAG)
    submission.cells[3].source = DEMO.replace("50", "5")
    nb = _run(tmp_path, _source(AUTOGRADE_SKIP_TAG), submission)
    assert _skipped(nb) == [4]
    assert nb.cells[3].source == DEMO.replace("50", "5")


@pytest.mark.parametrize("role", ["answer", "test", "markdown"])
def test_a_tag_on_an_nbgrader_cell_of_the_source_is_an_error(role, tmp_path):
    source = _source()
    tagged = {
        "answer": _answer(tags=[AUTOGRADE_SKIP_TAG]),
        "test": _test(tags=[AUTOGRADE_SKIP_TAG]),
        "markdown": new_markdown_cell("x", metadata={"tags": [AUTOGRADE_SKIP_TAG]}),
    }[role]
    source.cells[1 if role != "test" else 2] = tagged
    where = f"solutions/{ASSIGNMENT}/{NOTEBOOK}.ipynb"
    index = 2 if role == "test" else 1
    with pytest.raises(DemoDeclarationError, match=f"{where} cell {index}: only"):
        _run(tmp_path, source, _source())
    assert demo_problems(source, where)[0].startswith(f"{where} cell {index}: only")


def test_safe_autograde_skips_right_before_execute(tmp_path):
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import Execute

    from autograder.converters import SafeAutograde
    from autograder.nbgrader_config import course_config

    config = course_config(tmp_path)
    converter = SafeAutograde(coursedir=CourseDirectory(config=config), config=config)
    converter.exporter = converter.exporter_class(parent=converter)
    converter._sanitizing = False
    converter._init_preprocessors()
    steps = converter.exporter._preprocessors
    first = next(i for i, s in enumerate(steps) if isinstance(s, Execute))
    assert isinstance(steps[first - 1], SkipDeclaredDemos)
    assert steps[first - 1].source_directory == str(tmp_path / "solutions")
    converter._sanitizing = True  # nbgrader's sanitizing pass: no skip there
    converter._init_preprocessors()
    steps = converter.exporter._preprocessors
    assert not any(isinstance(s, SkipDeclaredDemos) for s in steps)


# ------------------------------------------------------------ the static check


def test_a_cell_reading_a_demo_result_is_a_problem():
    source = _source(AUTOGRADE_SKIP_TAG)
    assert demo_problems(source, "nb") == []
    source.cells.append(_test("check('99_demo', 'f', f)\nprint(history)"))
    assert demo_problems(source, "nb") == [
        "nb cell 5 reads history from declared demo cell(s) [3], skipped under "
        "autograde: untag the demo"
    ]
    # a name the later cell binds first is its own; a claim check may read
    source.cells[5].source = "history = []\nprint(history)"
    source.cells[4].source = "assert history"
    assert demo_problems(source, "nb") == []
    # a demo that changes a value in place (training a model) counts too
    source.cells[3].source = "model.fit(x, y)"
    source.cells[5].source = "print(model.evaluate(x, y))"
    assert "reads model" in demo_problems(source, "nb")[0]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_graded_cell_depends_on_a_declared_demo(assignment):
    path = ROOT / "solutions" / assignment / f"{assignment}.ipynb"
    nb = nbformat.read(path, as_version=4)
    assert demo_problems(nb, f"solutions/{assignment}/{path.name}") == []
