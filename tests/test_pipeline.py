"""The course pipeline end to end, on a temporary copy of the course.

* ``release --check``: the committed ``notebooks/`` is exactly what the
  release command makes from ``solutions/``, without outputs, solutions or
  hidden tests.
* One ``autograde`` run over a folder of fake students (split in two
  halves running side by side, each with its own gradebook): the solutions
  submitted as a student get full marks and the untouched release gets
  zero, for every assignment present; for 01_backprop also an infinite
  loop in one answer, a kernel that dies, a call to a withheld dlcore
  function, an answer right on the visible inputs only (its hidden part
  scores zero, from the trusted re-check) and one that tries to read the
  course secret and the hidden references from nbgrader's kernel.
* ``feedback`` writes HTML without hidden-test source; ``export`` writes
  the CSV with the manual-grading flag.
* Unit tests of the check helper (withholding: test_isolation.py).
"""

from __future__ import annotations

import copy
import csv
import shutil

import nbformat
import numpy as np
import pytest
from course_run import _cli
from fake_class import ASSIGNMENTS, FIRST, ROOT

from autograder.nbgrader_ext import CLAIM_CHECKS_TAG
from autograder.source import grade_id

needs_first = pytest.mark.skipif(
    FIRST not in ASSIGNMENTS, reason=f"the adversarial students use {FIRST}"
)


# ------------------------------------------------------------- the release


def _solution_regions(source: str) -> list[str]:
    regions, current = [], None
    for line in source.splitlines():
        if "BEGIN SOLUTION" in line:
            current = []
        elif "END SOLUTION" in line:
            regions.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return [r for r in regions if r.strip()]


def test_release_check_passes_on_the_committed_notebooks(tmp_path):
    proc = _cli("release", "--check", state=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "up to date" in proc.stdout


def test_release_check_fails_when_notebooks_are_stale(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(ROOT / "solutions", course / "solutions")
    shutil.copytree(ROOT / "notebooks", course / "notebooks")
    nb_path = course / "solutions" / FIRST / f"{FIRST}.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells[0].source += "\n\nA sentence added after the last release."
    nbformat.write(nb, nb_path)
    proc = _cli("release", "--check", FIRST, state=tmp_path / "state", root=course)
    assert proc.returncode == 1
    assert f"{FIRST}/{FIRST}.ipynb: differs" in proc.stdout
    # and the release command brings it up to date, copying data files but
    # nothing that looks hidden
    folder = course / "solutions" / FIRST
    (folder / "data.csv").write_text("x,y\n1,2\n")
    (folder / "hidden_inputs.npz").write_bytes(b"secret")
    (folder / "references.npz").write_bytes(b"secret")
    assert _cli("release", FIRST, state=tmp_path / "state", root=course).returncode == 0
    released = sorted(p.name for p in (course / "notebooks" / FIRST).iterdir())
    assert released == ["01_backprop.ipynb", "data.csv"]
    assert (
        _cli("release", "--check", FIRST, state=tmp_path / "s", root=course).returncode
        == 0
    )


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_holds_no_outputs_solutions_or_hidden_tests(assignment):
    folder = ROOT / "notebooks" / assignment
    assert folder.is_dir(), "run `python -m autograder release`"
    released = nbformat.read(folder / f"{assignment}.ipynb", as_version=4)
    source = nbformat.read(
        ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4
    )
    text = "\n".join(cell.source for cell in released.cells)
    for marker in (
        "BEGIN SOLUTION",
        "END SOLUTION",
        "BEGIN HIDDEN TESTS",
        "hidden=True",
    ):
        assert marker not in text
    for cell in source.cells:
        for region in _solution_regions(cell.source):
            assert region not in text, f"solution text leaked: {region[:80]!r}"
    for cell in released.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    claims = [
        cell
        for cell in source.cells
        if CLAIM_CHECKS_TAG in cell.metadata.get("tags", [])
    ]
    assert len(released.cells) == len(source.cells) - len(claims)
    files = sorted(p.name for p in folder.rglob("*") if p.is_file())
    assert not [f for f in files if "hidden" in f.lower() or "reference" in f.lower()]


def _parts(graded, assignment: str, student: str) -> dict[str, float]:
    """Score of each grade cell of a submission, from nbgrader's gradebook."""
    from nbgrader.api import Gradebook

    db = f"sqlite:///{graded['states'][assignment] / 'gradebook.db'}"
    with Gradebook(db) as gb:
        submission = gb.find_submission_notebook(assignment, assignment, student)
        return {
            grade.name: grade.score
            for grade in submission.grades
            if grade.cell.cell_type == "code"
        }


def _max_parts(graded, assignment: str) -> dict[str, float]:
    """Points of each autograded part (written answers are graded by hand)."""
    from nbgrader.api import Gradebook

    db = f"sqlite:///{graded['states'][assignment] / 'gradebook.db'}"
    with Gradebook(db) as gb:
        notebook = gb.find_notebook(assignment, assignment)
        return {
            cell.name: cell.max_score
            for cell in notebook.grade_cells
            if cell.cell_type == "code"
        }


def _autograde_output(graded, assignment: str) -> tuple[int, str]:
    return graded["autograde"][assignment]


@pytest.mark.slow
@needs_first
def test_autograde_exit_status_lists_the_dead_kernel(graded):
    code, out = _autograde_output(graded, FIRST)
    assert code == 3, out  # graded, but someone needs manual grading
    # The trusted re-check prints its report first, then autograde its
    # table: the last line naming a student is that student's table row.
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert "NEEDS MANUAL GRADING" in rows["crasher"], out
    assert "kernel died" in rows["crasher"], out
    assert "NEEDS MANUAL GRADING" in rows["tamperer"], out
    assert "'test_tanh' deleted" in rows["tamperer"], out
    for student in ("solution", "untouched"):
        assert "graded" in rows[student] and "MANUAL" not in rows[student], out
    # the static scan's flags go to the manual list, scores unchanged
    # (withheld imports a withheld function; snooper names the state folder)
    assert "[withheld] dlcore.functional.relu_forward" in rows["withheld"], out
    assert "[autograder-path]" in rows["snooper"], out
    # the looper, graded in a run of its own (the short cell timeout)
    hang_code, hang_out = graded["hang"]
    looper = [line for line in hang_out.splitlines() if line.startswith("  looper ")]
    assert hang_code == 0 and looper and "MANUAL" not in looper[-1], hang_out
    # nbgrader could not score the crasher's cells after os._exit; the
    # trusted re-check did, and says where it changed the gradebook.
    trusted = [
        line
        for line in out.splitlines()
        if line.strip().startswith("crasher") and "CHANGED" in line
    ]
    assert trusted, out
    for proc in graded["references"]:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    # Of the other assignments (graded in batches), only 03's internals
    # student needs manual grading: the scan flags its withheld import.
    for assignment, (code, out) in graded["autograde"].items():
        if assignment != FIRST:
            manual = [r for r in out.splitlines() if "NEEDS MANUAL GRADING" in r]
            assert code == (3 if manual else 0), out
            assert [r.split()[0] for r in manual] == ["internals"] * len(manual)
            if assignment == "03_optimizers":
                assert "[withheld] imports dlcore.callbacks.EarlyStopping" in out


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_submitted_as_a_student_gets_full_marks(graded, assignment):
    assert _parts(graded, assignment, "solution") == _max_parts(graded, assignment)


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_untouched_release_gets_zero(graded, assignment):
    parts = _parts(graded, assignment, "untouched")
    assert parts and all(score == 0 for score in parts.values()), parts


@pytest.mark.slow
@needs_first
def test_infinite_loop_scores_zero_for_that_part_only(graded):
    parts = _parts(graded, FIRST, "looper")
    expected = dict(_max_parts(graded, FIRST), test_perceptron_epoch=0)
    assert parts == expected


@pytest.mark.slow
@needs_first
def test_withheld_dlcore_function_scores_zero_for_that_part(graded):
    parts = _parts(graded, FIRST, "withheld")
    full = _max_parts(graded, FIRST)
    assert parts["test_relu"] == 0
    # other parts are untouched; mlp_loss uses relu and may fail with it
    for name in (
        "test_perceptron_epoch",
        "test_linear",
        "test_sigmoid",
        "test_tanh",
        "test_softmax_cross_entropy",
    ):
        assert parts[name] == full[name], name
    # nbgrader's kernel withholds nothing (its verdict is redone): the zero
    # is the trusted re-check's, whose child for 01 has no dlcore at all
    autograded = (
        graded["states"][FIRST] / "autograded" / "withheld" / FIRST / f"{FIRST}.ipynb"
    )
    executed = nbformat.read(autograded, as_version=4)
    (relu_test,) = [c for c in executed.cells if grade_id(c) == "test_relu"]
    assert relu_test.execution_count, "nbgrader's kernel did not run test_relu"
    assert not [o for o in relu_test.outputs if o.get("output_type") == "error"]


@pytest.mark.slow
@needs_first
def test_dead_kernel_does_not_stop_the_others(graded):
    from nbgrader.api import Gradebook

    state = graded["states"][FIRST]
    manual = (state / "needs_manual_grading.json").read_text()
    assert "crasher" in manual and "kernel died" in manual
    with Gradebook(f"sqlite:///{state / 'gradebook.db'}") as gb:
        submission = gb.find_submission(FIRST, "crasher")
        assert submission.needs_manual_grade
    assert _parts(graded, FIRST, "solution") == _max_parts(graded, FIRST)


@pytest.mark.slow
@needs_first
def test_feedback_html_without_hidden_tests(graded):
    for proc in graded["feedback"]:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    pages = []
    for assignment in ASSIGNMENTS:
        feedback = graded["states"][assignment] / "feedback"
        for student in ("solution", "untouched"):
            page = feedback / student / assignment / f"{assignment}.html"
            assert page.is_file(), page
            pages.append(page)
    for page in pages + sorted(
        (graded["states"][FIRST] / "feedback").glob("*/*/*.html")
    ):
        text = page.read_text()
        assert "BEGIN HIDDEN TESTS" not in text and "hidden=True" not in text, page
    looper = graded["states"][FIRST] / "feedback" / "looper" / FIRST / f"{FIRST}.html"
    assert "perceptron_epoch" in looper.read_text()


@pytest.mark.slow
@needs_first
def test_export_csv_flags_manual_grading(graded):
    for proc in graded["export"]:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(graded["states"][FIRST] / "grades.csv", newline="") as fh:
        rows = {(r["assignment"], r["student_id"]): r for r in csv.DictReader(fh)}
    assert rows[(FIRST, "crasher")]["needs_manual_grade"] == "yes"
    # The solution's written answers wait for a person; nothing is wrong
    # with it (no flag), and it has every autograded point.
    solution = rows[(FIRST, "solution")]
    assert solution["needs_manual_grade"] == "no" and solution["reason"] == ""
    assert int(solution["written_answers_to_grade"]) > 0
    # each submission's timestamp.txt, as nbgrader's exchange writes it
    assert {row["timestamp"] for row in rows.values()} == {"2025-03-01 11:30:00"}
    # by default only what was graded: no "no submission" filler rows. The
    # assignments are graded in groups, each with its own state folder and
    # CSV; together the CSVs hold exactly the submissions made.
    exported = set()
    for state in set(graded["states"].values()):
        with open(state / "grades.csv", newline="") as fh:
            exported |= {(r["assignment"], r["student_id"]) for r in csv.DictReader(fh)}
    submitted = {
        (assignment, student)
        for student, made in graded["students"].items()
        for assignment in made
    }
    assert exported == submitted
    assert not [row for row in rows.values() if row["reason"] == "no submission"]
    assert float(solution["score"]) == sum(_max_parts(graded, FIRST).values())
    assert float(rows[(FIRST, "untouched")]["score"]) == 0
    # a manual-grading flag always says why (issue 16)
    for state in set(graded["states"].values()):
        with open(state / "grades.csv", newline="") as fh:
            for row in csv.DictReader(fh):
                assert row["needs_manual_grade"] == "no" or row["reason"], row


@pytest.mark.slow
@needs_first
def test_hidden_failure_scores_zero_from_the_trusted_recheck(graded):
    """tanh right on the visible inputs only: the kernel passed the visible
    test and deferred the hidden one; the re-check scored it 0."""
    from nbgrader.api import Gradebook

    state = graded["states"][FIRST]
    parts = _parts(graded, FIRST, "snooper")
    assert parts == dict(_max_parts(graded, FIRST), test_tanh=0)
    with Gradebook(f"sqlite:///{state / 'gradebook.db'}") as gb:
        grade = gb.find_grade("test_tanh", FIRST, FIRST, "snooper")
        assert grade.auto_score == 1 and grade.manual_score == 0
        comment = gb.find_comment("tanh_answer", FIRST, FIRST, "snooper").manual_comment
    assert comment.startswith(
        "[trusted re-check] test_tanh: 0 / 1; hidden test scored by the trusted "
        "re-check: check 'tanh' (hidden test): dx: wrong values"
    ), comment
    assert "expected" not in comment and "gave" not in comment, comment
    code, out = _autograde_output(graded, FIRST)
    assert "test_tanh: hidden test failed, trusted 0 / 1" in out, out
    with open(state / "grades.csv", newline="") as fh:
        rows = {(r["assignment"], r["student_id"]): r for r in csv.DictReader(fh)}
    row = rows[(FIRST, "snooper")]
    # (max_score also counts the written answers, graded by hand)
    assert float(row["score"]) == sum(_max_parts(graded, FIRST).values()) - 1
    # flagged for its attempt to read the state folder (the static scan),
    # not for its hidden test, which is simply scored
    assert row["needs_manual_grade"] == "yes", row
    assert row["reason"].startswith("suspicious code (static scan"), row
    assert "hidden" not in row["reason"], row
    # the kernel ran no hidden test: it printed that the re-check scores them
    executed = state / "autograded" / "snooper" / FIRST / f"{FIRST}.ipynb"
    assert "hidden test: scored by the trusted re-check" in executed.read_text()
    page = state / "feedback" / "snooper" / FIRST / f"{FIRST}.html"
    html = page.read_text()
    assert "hidden test scored by the trusted re-check" in html
    assert "first mismatch" not in html


@pytest.mark.slow
@needs_first
def test_student_code_cannot_read_the_course_secret_or_references(graded):
    """An answer cell that prints the secret, the references and the gradebook
    into its output gets nothing; grading goes on as usual."""
    from autograder.trusted import sandbox

    state = graded["states"][FIRST]
    secret = (state / "secret").read_text().strip()
    assert secret
    references = np.load(state / "references" / f"{FIRST}.npz")
    # graded as usual (its tanh is the other test's business)
    assert _parts(graded, FIRST, "snooper") == dict(
        _max_parts(graded, FIRST), test_tanh=0
    )
    executed = state / "autograded" / "snooper" / FIRST / f"{FIRST}.ipynb"
    nb = nbformat.read(executed, as_version=4)
    printed = "".join(
        output.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    assert "SNOOP env None" in printed, printed[-2000:]
    if sandbox.LANDLOCK_ABI <= 0:
        pytest.skip("no Landlock: the kernels cannot be kept from the course state")
    for name in ("secret", f"references/{FIRST}.npz", "gradebook.db"):
        assert f"SNOOP {name} PermissionError" in printed, printed[-2000:]
    page = state / "feedback" / "snooper" / FIRST / f"{FIRST}.html"
    for text in (executed.read_text(), page.read_text()):
        assert secret not in text
        assert "SNOOP secret PermissionError" in text
    # no hidden reference value appears in any feedback page of the run
    values = {
        f"{value:.6f}"[:8]
        for key in references.files
        if key.split("::")[-1].isdigit()
        for value in np.ravel(references[key])[:3].astype(float)
        if abs(value) > 1e-3
    }
    for page in sorted((state / "feedback").glob("*/*/*.html")):
        text = page.read_text()
        assert secret not in text, page
        assert not [v for v in values if v in text], page


# ------------------------------------------------------------ unit tests


def test_compare_arrays_names_the_first_mismatch():
    from autograder.checks import compare_arrays

    expected = (np.zeros((2, 3)), np.ones(3))
    received = (np.zeros((2, 3)), np.array([1.0, 1.5, 1.0]))
    message = compare_arrays(expected, received, names=("dx", "db"))
    assert message.startswith("db: 1 of 3 entries differ")
    assert "index (1): expected 1, received 1.5" in message
    assert "relative error" in message
    assert compare_arrays(expected, expected) is None
    assert "expected shape (2, 3), received shape (3, 2)" in compare_arrays(
        np.zeros((2, 3)), np.zeros((3, 2))
    )
    assert "dtype float64, received dtype float32" in compare_arrays(
        np.zeros(3), np.zeros(3, np.float32)
    )
    assert "expected a tuple of 2 outputs" in compare_arrays(expected, np.zeros(3))
    assert "received 1 NaN" in compare_arrays(np.zeros(2), np.array([0.0, np.nan]))


def test_check_reports_expected_received_and_hint(monkeypatch, tmp_path):
    from autograder.checks import CheckFailure, check

    monkeypatch.setenv("AUTOGRADER_STATE_DIR", str(tmp_path))

    def relu_forward(x):
        return np.maximum(x, 0), x

    def relu_backward(dout, x):  # the usual mistake: >= instead of >
        return dout * (x >= 0) + 0.5 * (x < 0)

    with pytest.raises(CheckFailure) as info:
        check(FIRST, "relu", (relu_forward, relu_backward))
    message = str(info.value)
    assert "check 'relu' failed (visible test)" in message
    assert "dx:" in message and "first mismatch at index" in message
    assert "hint: The gradient passes only where the unit was active" in message


def test_an_unfinished_answer_prints_one_line_unless_nbgrader_runs_it(
    monkeypatch, capsys, tmp_path
):
    """A student's Run All goes on past a function still to write; under
    nbgrader (validate, autograde) the test cell fails as before."""
    from autograder.checks import check

    monkeypatch.setenv("AUTOGRADER_STATE_DIR", str(tmp_path))

    def relu_forward(x):
        raise NotImplementedError()

    def relu_backward(dout, cache):
        raise NotImplementedError()

    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    check(FIRST, "relu", (relu_forward, relu_backward))
    points = checks_points(FIRST, "relu")
    assert capsys.readouterr().out.strip() == (
        f"`relu_forward` is not implemented yet: 0 of {points:g} points"
    )
    for mode in ("validate", "autograde"):
        monkeypatch.setenv("NBGRADER_EXECUTION", mode)
        with pytest.raises(NotImplementedError):
            check(FIRST, "relu", (relu_forward, relu_backward))


def checks_points(assignment: str, name: str) -> float:
    from autograder.declarations import get_check

    return get_check(assignment, name).points


def test_hidden_check_uses_stored_references_and_detects_stale_ones(
    monkeypatch, tmp_path
):
    from autograder import checks

    monkeypatch.setenv("AUTOGRADER_STATE_DIR", str(tmp_path))
    path = checks.compute_references(FIRST)
    assert path == tmp_path / "references" / f"{FIRST}.npz"
    stored = checks.load_references(FIRST)
    assert all(v.dtype != object for v in stored.values())
    declared = checks.get_check(FIRST, "tanh")
    seed = checks.hidden_seed(FIRST, "tanh")
    assert seed != checks.visible_seed(FIRST, "tanh")
    expected = checks._stored_expected(FIRST, declared, seed)
    assert checks.compare_arrays(declared.expected(seed), expected) is None
    # another secret: the stored outputs no longer match the hidden inputs
    (tmp_path / "secret").write_text("another secret\n")
    other = checks.hidden_seed(FIRST, "tanh")
    assert checks._stored_expected(FIRST, declared, other) is None
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(RuntimeError, match="python -m autograder references"):
        checks._hidden_expected(FIRST, declared, other)


def test_hidden_check_defers_to_the_recheck_while_autograding(
    monkeypatch, capsys, tmp_path
):
    """Under autograde a hidden check reads neither the secret nor the
    references; without the instructor command's marker it fails."""
    from autograder import checks, paths

    monkeypatch.setenv("AUTOGRADER_STATE_DIR", str(tmp_path))

    def forbidden(*args, **kwargs):
        raise AssertionError("the kernel read the course state")

    monkeypatch.setattr(paths, "course_secret", forbidden)
    monkeypatch.setattr(checks, "load_references", forbidden)

    def tanh_forward(x):
        return np.tanh(x), np.tanh(x)

    def tanh_backward(dout, cache):  # wrong: deferred, not judged here
        return dout

    pair = (tanh_forward, tanh_backward)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.delenv(checks.DEFERRED_ENV, raising=False)
    with pytest.raises(RuntimeError, match="python -m autograder autograde"):
        checks.check(FIRST, "tanh", pair, hidden=True)
    monkeypatch.setenv(checks.DEFERRED_ENV, "1")
    checks.check(FIRST, "tanh", pair, hidden=True)
    assert checks.DEFERRED_MESSAGE in capsys.readouterr().out
    # outside autograde (validate, authoring) it runs here, as before
    monkeypatch.undo()
    monkeypatch.setenv("AUTOGRADER_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    with pytest.raises(checks.CheckFailure, match="hidden test"):
        checks.check(FIRST, "tanh", pair, hidden=True)


# (received, what a failed hidden tanh check says) for expected (0, 1) arrays
HIDDEN_CASES = (
    ((np.zeros((2, 3)), np.full((2, 3), 1.5)), "dx: wrong values"),
    ((np.zeros((2, 3)), np.ones((3, 2))), "dx: wrong shape"),
    ((np.zeros((2, 3)), np.ones((2, 3), np.float32)), "dx: wrong dtype"),
    ((np.zeros((2, 3)), None), "dx: not an array of numbers"),
    (np.zeros((2, 3)), "the result has the wrong number of outputs"),
)


def test_hidden_summary_tells_no_values():
    from autograder import declarations

    declared = declarations.get_check(FIRST, "tanh")
    expected = (np.zeros((2, 3)), np.ones((2, 3)))
    for received, said in HIDDEN_CASES:
        mismatches = declared.mismatches(expected, received)
        summary = declarations.hidden_summary(declared, mismatches)
        assert summary == said, declarations.render(mismatches)


def test_rewording_the_messages_changes_no_score_and_no_hidden_summary(monkeypatch):
    """Scores and hidden-test summaries read the Mismatch records, never the
    text: a renderer that words every message differently changes neither."""
    from autograder import declarations
    from autograder.trusted.program import CallSpec
    from autograder.trusted.scoring import Returned, Scorer

    declared = declarations.get_check(FIRST, "tanh")
    expected = (np.zeros((2, 3)), np.ones((2, 3)))
    scorer = Scorer(
        {"tanh": declared}, {"tanh.visible": expected, "tanh.hidden": expected}, {}
    )
    received = [r for r, _ in HIDDEN_CASES] + [expected]

    def verdicts():
        return [
            scorer.verdict(CallSpec("t", "tanh", "pair", hidden), Returned(value))
            for value in received
            for hidden in (False, True)
        ]

    before = verdicts()
    monkeypatch.setattr(declarations, "render_mismatch", lambda m: "REWORDED")
    after = verdicts()
    assert [v is None for v in before] == [v is None for v in after]
    assert [v is None for v in before].count(True) == 2  # the right answer
    assert before == after  # visible and hidden: categories, never the text
    assert before[0::2] == before[1::2]  # the child held the hidden inputs


def test_structure_problems_find_deleted_and_duplicated_grade_cells(tmp_path):
    from autograder.pipeline import structure_problems

    source = ROOT / "solutions" / FIRST / f"{FIRST}.ipynb"
    nb = nbformat.read(source, 4)
    grade_cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    nb.cells.remove(grade_cells[0])
    duplicate = copy.deepcopy(grade_cells[1])
    duplicate["id"] = "a-duplicate"
    nb.cells.append(duplicate)
    path = tmp_path / "sub.ipynb"
    nbformat.write(nb, path)
    problems = structure_problems(source, path)
    assert any("deleted" in p for p in problems)
    assert any("duplicated" in p for p in problems)
    assert structure_problems(source, source) == []


def test_feedback_preprocessor_drops_hidden_source_and_tracebacks():
    from autograder.nbgrader_ext import ClearHiddenTestsFromFeedback

    cell = nbformat.v4.new_code_cell(
        'check("01_backprop", "tanh", pair)\n'
        "### BEGIN HIDDEN TESTS\n"
        'check("01_backprop", "tanh", pair, hidden=True)\n'
        "### END HIDDEN TESTS",
        metadata={"nbgrader": {"grade": True, "grade_id": "t", "points": 1}},
    )
    cell.outputs = [
        nbformat.v4.new_output(
            "error",
            ename="CheckFailure",
            evalue="check 'tanh' failed (hidden test)",
            traceback=[
                '----> 3 check("01_backprop", "tanh", pair, hidden=True)',
                "...",
            ],
        )
    ]
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb, _ = ClearHiddenTestsFromFeedback().preprocess(nb, {})
    assert "hidden" not in nb.cells[0].source
    assert nb.cells[0].outputs[0]["traceback"] == [
        "CheckFailure: check 'tanh' failed (hidden test)"
    ]


def _corruptions(nb):
    """Copies of ``nb`` whose nbgrader metadata each break one rule."""
    graded = next(
        i
        for i, cell in enumerate(nb.cells)
        if cell.metadata.get("nbgrader", {}).get("grade")
    )
    for change in (
        lambda meta: meta.update(points="ten"),  # the schema's types
        lambda meta: meta.pop("grade_id"),  # a required key
        lambda meta: meta.update(schema_version=2),  # an older schema
        lambda meta: meta.pop("points"),  # nbgrader's own rule for grade cells
    ):
        broken = copy.deepcopy(nb)
        change(broken.cells[graded].metadata["nbgrader"])
        yield broken


def test_the_metadata_check_compiled_once_agrees_with_nbgraders():
    """The faster metadata check (its schema compiled once) passes what
    nbgrader's passes and fails what it fails, with nbgrader's error."""
    from nbgrader.preprocessors import CheckCellMetadata

    from autograder.nbgrader_ext import CheckCellMetadataSchemaOnce

    def verdict(step, nb):
        try:
            step().preprocess(copy.deepcopy(nb), {})
        except Exception as err:
            return type(err), str(err)
        return None

    source = ROOT / "solutions" / "01_backprop" / "01_backprop.ipynb"
    solution = nbformat.read(source, as_version=4)
    assert verdict(CheckCellMetadataSchemaOnce, solution) is None
    for broken in _corruptions(solution):
        expected = verdict(CheckCellMetadata, broken)
        assert expected is not None
        assert verdict(CheckCellMetadataSchemaOnce, broken) == expected


def test_validate_command_exits_non_zero_on_a_failing_test_cell(tmp_path):
    def notebook(test_source):
        meta = {
            "grade": True,
            "solution": False,
            "locked": True,
            "points": 1,
            "grade_id": "test_it",
            "schema_version": 3,
            "task": False,
        }
        nb = nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_code_cell(test_source, metadata={"nbgrader": meta})]
        )
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "language": "python",
            "display_name": "Python 3",
        }
        return nb

    good, bad = tmp_path / "good.ipynb", tmp_path / "bad.ipynb"
    nbformat.write(notebook("assert 1 + 1 == 2"), good)
    nbformat.write(notebook("assert 1 + 1 == 3, 'arithmetic'"), bad)
    passed = _cli("validate", str(good), state=tmp_path / "state")
    failed = _cli("validate", str(bad), state=tmp_path / "state")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert failed.returncode == 1 and "arithmetic" in failed.stdout
