"""No submission harms another (issue 16).

Read from the shared course run (tests/course_run.py): answers taken from
dlcore's internals score zero while the honest parts keep their points; a
forged exit status, malformed metadata, links and FIFOs planted by a kernel,
and reading the environment of the processes above it harm only the
submission itself; copies are flagged with the partner, never rescored.
Also: the secret is refused from the environment, and safe_files never
follows a link or opens a FIFO.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import nbformat
import numpy as np
import pytest
from fake_class import ASSIGNMENTS, INTERNALS_STUDENTS
from integrity_support import ASSIGNMENT, ROOT, corpus, part_points

from autograder.trusted.program import SourceNotebook

# ------------------------------------- no submission harms another (issue 16)


def _course_parts(graded, student) -> dict[str, float]:
    from autograder.gradebook import submission_scores

    state = graded["states"][ASSIGNMENT]
    scores = submission_scores(
        f"sqlite:///{state / 'gradebook.db'}", ASSIGNMENT, student
    )
    autograded = part_points()
    return {name: score for name, (score, _) in scores[2].items() if name in autograded}


def _graded_parts(graded, assignment: str, student: str) -> dict[str, float]:
    """Score of each autograded part of a submission in the shared run."""
    from autograder.gradebook import submission_scores

    state = graded["states"][assignment]
    scores = submission_scores(
        f"sqlite:///{state / 'gradebook.db'}", assignment, student
    )
    source = SourceNotebook(
        ROOT / "solutions" / assignment / f"{assignment}.ipynb", assignment
    )
    return {
        name: score
        for name, (score, _) in scores[2].items()
        if name in source.grade_cells
    }


def _tests_of(assignment: str, answers) -> set[str]:
    """The test cells that grade the answer cells ``answers``."""
    source = SourceNotebook(
        ROOT / "solutions" / assignment / f"{assignment}.ipynb", assignment
    )
    return {
        test
        for test, spec in source.grade_cells.items()
        if set(spec.answer_cells) & set(answers)
    }


@pytest.mark.parametrize(
    ("assignment", "answer"),
    [(a, answer) for a, _, routes, _ in INTERNALS_STUDENTS for answer in routes],
)
def test_each_internals_route_works_where_dlcore_is_reachable(assignment, answer):
    """The answers of the shared run's ``internals`` students are real
    routes: with dlcore loaded and readable (this process), each passes."""
    from autograder import checks

    routes = next(r for a, _, r, _ in INTERNALS_STUDENTS if a == assignment)
    source = SourceNotebook(
        ROOT / "solutions" / assignment / f"{assignment}.ipynb", assignment
    )
    namespace = {"np": np, "__name__": "student"}
    exec(compile(routes[answer], answer, "exec"), namespace)
    (test,) = _tests_of(assignment, [answer])
    for call in (c for c in source.grade_cells[test].calls if not c.hidden):
        declared = checks.get_check(assignment, call.check)
        seed = checks.visible_seed(assignment, call.check)
        fn = eval(call.expr, namespace)
        assert checks.run_check(declared, fn, seed) is None


@pytest.mark.slow
@pytest.mark.parametrize(
    ("assignment", "student", "routes", "honest"), INTERNALS_STUDENTS
)
def test_answers_from_dlcore_internals_score_zero(
    graded, assignment, student, routes, honest
):
    """03: an optimizer's ``_update`` and ``EarlyStopping``; 07: dlcore's
    cross-entropy inside the smoothed loss. Each such part scores zero, the
    honest answer keeps its points, and the solution graded in the same run
    keeps full marks."""
    if assignment not in ASSIGNMENTS:
        pytest.skip(f"no {assignment} in the shared run")
    parts = _graded_parts(graded, assignment, student)
    full = _graded_parts(graded, assignment, "solution")
    kept = _tests_of(assignment, honest)
    assert kept and not kept & _tests_of(assignment, routes)
    assert parts == {t: (full[t] if t in kept else 0.0) for t in full}, parts
    assert all(score > 0 for score in full.values()), full


def _only(**full) -> dict[str, float]:
    """Every part of 01 zero but those given."""
    return dict(dict.fromkeys(corpus.ALL_PARTS, 0.0), **full)


def _printed(notebook: Path) -> str:
    """What the executed notebook's code cells printed."""
    nb = nbformat.read(notebook, as_version=4)
    return "".join(
        output.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )


def _manual(graded) -> dict[str, str]:
    state = graded["states"][ASSIGNMENT]
    return json.loads((state / "needs_manual_grading.json").read_text())[ASSIGNMENT]


@pytest.mark.slow
@pytest.mark.skipif(ASSIGNMENT not in ASSIGNMENTS, reason="no 01 in the shared run")
def test_a_forged_exit_status_is_the_submissions_own_problem(graded):
    """``forger`` ends the re-check's child with the runner's "no sandbox"
    status: its own part scores zero, nobody else's grading changes."""
    assert _course_parts(graded, "forger") == _only(test_relu=1)
    code, out = graded["autograde"][ASSIGNMENT]
    # on the manual list for its code only (the static scan: os._exit),
    # never for a sandbox the grader would have failed to apply
    reason = _manual(graded)["forger"]
    assert reason.startswith("suspicious code (static scan") and "os._exit" in reason
    assert "sandbox" not in reason and "re-check failed" not in reason, reason
    assert "NOT RE-CHECKED" not in out and "trusted re-check failed" not in out, out
    # the others were re-checked after it (snooper's hidden test was scored)
    assert _course_parts(graded, "snooper")["test_tanh"] == 0


@pytest.mark.slow
@pytest.mark.skipif(ASSIGNMENT not in ASSIGNMENTS, reason="no 01 in the shared run")
def test_malformed_metadata_puts_that_submission_on_the_manual_list(graded):
    reason = _manual(graded)["malformed"]
    assert "'test_sigmoid' deleted" in reason and "'test_tanh' deleted" in reason
    assert "AttributeError" in reason, reason  # what stopped nbgrader
    # the trusted re-check takes the test cells from the source: relu counts
    assert _course_parts(graded, "malformed") == _only(test_relu=1)
    for proc in graded["export"]:
        assert proc.returncode == 0, proc.stderr


@pytest.mark.slow
@pytest.mark.skipif(ASSIGNMENT not in ASSIGNMENTS, reason="no 01 in the shared run")
def test_links_planted_by_a_kernel_clobber_and_leak_nothing(graded):
    """``vandal``'s kernel swapped its notebook for a link to the gradebook
    and left a link to the secret and a FIFO for the feedback."""
    state = graded["states"][ASSIGNMENT]
    secret = (state / "secret").read_text().strip()
    folder = state / "autograded" / "vandal" / ASSIGNMENT
    notebook = folder / f"{ASSIGNMENT}.ipynb"
    # the write-back replaced the link instead of writing through it
    assert notebook.is_file() and not notebook.is_symlink()
    printed = _printed(notebook)
    assert "VANDAL environ" in printed, printed  # its code ran to the end
    assert "VANDAL link" not in printed and "VANDAL swap" not in printed, printed
    assert (folder / "leak.txt").is_symlink()  # the attack did happen
    # the gradebook survived: everyone is in the export, scored as intended
    with open(state / "grades.csv", newline="") as fh:
        rows = {
            r["student_id"]: r
            for r in csv.DictReader(fh)
            if r["assignment"] == ASSIGNMENT
        }
    students = {s for s, given in graded["students"].items() if ASSIGNMENT in given}
    assert students <= set(rows)
    assert _course_parts(graded, "vandal") == _only(test_relu=1)
    assert float(rows["solution"]["score"]) == sum(part_points().values())
    assert "leak.txt, pipe.txt" in _manual(graded)["vandal"]
    # the feedback copied regular files only: no link, no secret
    feedback = state / "feedback" / "vandal" / ASSIGNMENT
    # (nbgrader also hands back the submission's timestamp.txt)
    copied = sorted(p.name for p in feedback.iterdir())
    assert copied == [f"{ASSIGNMENT}.html", "timestamp.txt"], copied
    assert not [p for p in feedback.iterdir() if p.is_symlink() or not p.is_file()]
    for page in (state / "feedback").rglob("*"):
        if page.is_file():
            assert secret not in page.read_text(errors="replace"), page


@pytest.mark.slow
@pytest.mark.skipif(ASSIGNMENT not in ASSIGNMENTS, reason="no 01 in the shared run")
def test_no_environment_above_a_kernel_holds_the_secret(graded):
    """``vandal`` read /proc/<pid>/environ of every process above its kernel
    (the grader's included); the state is the owner's alone."""
    state = graded["states"][ASSIGNMENT]
    notebook = state / "autograded" / "vandal" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert "VANDAL environ []" in _printed(notebook)
    assert (state.stat().st_mode & 0o777) == 0o700
    assert ((state / "secret").stat().st_mode & 0o777) == 0o600


@pytest.mark.slow
@pytest.mark.skipif(ASSIGNMENT not in ASSIGNMENTS, reason="no 01 in the shared run")
def test_copies_are_flagged_with_the_partner_never_rescored(graded):
    """``borrower`` answers ELU with dlcore's code, ``dave`` copies ``carol``
    (tests/fake_class.py, ``COPIERS``): they keep their scores, and the CSV's
    reason names what each resembles; nobody else is flagged as a copy, and
    no feedback page names a partner."""
    from fake_class import COPIERS

    state = graded["states"][ASSIGNMENT]
    with open(state / "grades.csv", newline="") as fh:
        rows = {
            r["student_id"]: r
            for r in csv.DictReader(fh)
            if r["assignment"] == ASSIGNMENT
        }
    points = part_points()
    for student, (part, partner) in COPIERS.items():
        test = "test_" + part.removesuffix("_answer")
        assert _course_parts(graded, student) == _only(**{test: points[test]})
        row = rows[student]
        assert row["needs_manual_grade"] == "yes", row
        assert f"answer to part {part} resembles {partner} (" in row["reason"], row
        assert row["reason"].startswith("possible copy"), row
        page = state / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html"
        html = page.read_text()
        assert "resembles" not in html and "possible copy" not in html, page
        for other in COPIERS:
            assert other == student or other not in html, (other, page)
    # the solution-built students and the honest ones resemble nobody
    for student, row in rows.items():
        if student not in COPIERS:
            assert "possible copy" not in row["reason"], row
    assert rows["solution"]["reason"] == ""
    code, out = graded["autograde"][ASSIGNMENT]
    assert "copy detection of 01_backprop:" in out, out


def test_the_secret_is_refused_from_the_environment(tmp_path, monkeypatch):
    from course_run import _cli

    from autograder import paths

    monkeypatch.setenv("AUTOGRADER_SECRET", "a secret in the environment")
    with pytest.raises(RuntimeError, match="may not sit in an environment"):
        paths.course_secret()
    proc = _cli("references", ASSIGNMENT, state=tmp_path / "state")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "unset $AUTOGRADER_SECRET" in proc.stderr
    assert not (tmp_path / "state" / "references").exists()


def test_safe_files_never_follow_a_link_or_open_a_fifo(tmp_path):
    from autograder import safe_files

    secret = tmp_path / "secret"
    secret.write_text("s3cret")
    folder = tmp_path / "autograded"
    folder.mkdir()
    (folder / "notebook.ipynb").symlink_to(secret)
    (folder / "sub").symlink_to(tmp_path)
    os.mkfifo(folder / "pipe")
    (folder / "ok.txt").write_text("fine")
    for name in ("notebook.ipynb", "pipe", "sub/secret"):
        with pytest.raises(safe_files.NotRegularFile):
            safe_files.read_regular(folder, folder / name)
    safe_files.write_replacing(folder, folder / "notebook.ipynb", b"{}")
    assert secret.read_text() == "s3cret"
    assert (folder / "notebook.ipynb").read_bytes() == b"{}"
    assert not safe_files.chmod_regular(folder, folder / "pipe", 0o444)
    assert [p.name for p in safe_files.planted(folder)] == ["pipe", "sub"]
    assert [p.name for p in safe_files.regular_files(folder)] == [
        "notebook.ipynb",
        "ok.txt",
    ]
