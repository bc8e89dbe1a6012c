"""The grades table (autograder.export) on a small gradebook built here.

Two assignments, each one autograded test cell (2 points) and one written
answer (1 point, graded by hand), three students: alice submitted both
(her first written answer still waits for a grade; the second came without
a timestamp.txt), bob the first, late and flagged by the autograder, carol
nothing.
"""

from __future__ import annotations

import os
import sys
import warnings
from datetime import datetime
from pathlib import Path

import pytest

from autograder.export import COLUMNS, NO_SUBMISSION, NO_TIMESTAMP, grade_rows

DUE = datetime(2025, 3, 1, 12, 0, 0)
FLAGGED = {"a1": {"bob": "the kernel died while executing the notebook"}}


@pytest.fixture(scope="module")
def gradebook(tmp_path_factory):
    """Built once (a new gradebook takes seconds); the tests only read it."""
    from nbgrader.api import Gradebook

    path = tmp_path_factory.mktemp("export") / "gradebook.db"
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
        # A new gradebook asks nbgrader's `alembic` script for its schema
        # version: find it next to this interpreter without an activated venv.
        bindir = str(Path(sys.executable).parent)
        mp.setenv("PATH", bindir + os.pathsep + os.environ.get("PATH", ""))
        # nbgrader 0.9 with SQLAlchemy 2 warns about its own session handling
        warnings.filterwarnings("ignore", message=r"Object of type <Submitted")
        gb = Gradebook(f"sqlite:///{path}")
        for name in ("a1", "a2"):
            gb.add_assignment(name, duedate=DUE)
            gb.add_notebook(name, name)
            gb.add_grade_cell("test_it", name, name, max_score=2, cell_type="code")
            gb.add_grade_cell("why", name, name, max_score=1, cell_type="markdown")
        for student in ("alice", "bob", "carol"):
            gb.add_student(student)
        _submit(gb, "a1", "alice", DUE.replace(hour=11), auto=2, written=None)
        _submit(gb, "a1", "bob", DUE.replace(hour=13), auto=0, written=None)
        _submit(gb, "a2", "alice", None, auto=2, written=1)
    with gb:
        yield gb


def _submit(gb, assignment, student, timestamp, auto, written):
    """A submission as autograde (and, if ``written``, a grader) leaves it."""
    submission = gb.add_submission(assignment, student, timestamp=timestamp)
    for grade in submission.notebooks[0].grades:
        if grade.cell_type == "code":
            grade.auto_score, grade.needs_manual_grade = auto, False
        elif written is None:  # nbgrader leaves written answers to a person
            grade.auto_score, grade.needs_manual_grade = None, True
        else:
            grade.manual_score, grade.needs_manual_grade = written, False
    gb.db.commit()


def _by_key(rows):
    return {(row.assignment, row.student_id): row for row in rows}


def test_by_default_one_row_per_submission(gradebook):
    rows = grade_rows(gradebook, FLAGGED)
    assert [(r.assignment, r.student_id) for r in rows] == [
        ("a1", "alice"),
        ("a1", "bob"),
        ("a2", "alice"),
    ]
    by_key = _by_key(rows)
    alice = by_key[("a1", "alice")]
    assert (alice.timestamp, alice.seconds_late) == ("2025-03-01 11:00:00", 0)
    assert (alice.score, alice.max_score) == (2, 3)
    bob = by_key[("a1", "bob")]
    assert (bob.timestamp, bob.seconds_late) == ("2025-03-01 13:00:00", 3600)
    assert bob.score == 0
    untimed = by_key[("a2", "alice")]
    assert (untimed.timestamp, untimed.seconds_late) == (NO_TIMESTAMP, 0)


def test_flagged_and_written_answers_are_told_apart(gradebook):
    by_key = _by_key(grade_rows(gradebook, FLAGGED))
    alice, bob = by_key[("a1", "alice")], by_key[("a1", "bob")]
    graded = by_key[("a2", "alice")]
    # nbgrader says both need manual grading; only bob was flagged
    assert gradebook.find_submission("a1", "alice").needs_manual_grade
    assert not alice.needs_manual_grade and alice.reason == ""
    assert alice.written_answers_to_grade == 1
    assert bob.needs_manual_grade and bob.reason == FLAGGED["a1"]["bob"]
    assert bob.written_answers_to_grade == 1
    assert not graded.needs_manual_grade and graded.written_answers_to_grade == 0
    assert graded.score == graded.max_score == 3
    assert alice.as_csv()[COLUMNS.index("needs_manual_grade")] == "no"
    assert bob.as_csv()[COLUMNS.index("needs_manual_grade")] == "yes"


def test_full_matrix_fills_in_missing_submissions(gradebook):
    rows = grade_rows(gradebook, FLAGGED, full_matrix=True)
    assert len(rows) == 6
    missing = sorted(
        (r.assignment, r.student_id) for r in rows if r.reason == NO_SUBMISSION
    )
    assert missing == [("a1", "carol"), ("a2", "bob"), ("a2", "carol")]
    carol = _by_key(rows)[("a1", "carol")]
    assert (carol.timestamp, carol.score, carol.max_score) == ("", 0, 3)
    assert not carol.needs_manual_grade


def test_bad_manual_list_is_named(gradebook):
    with pytest.raises(TypeError, match="flagged must map .* received list"):
        grade_rows(gradebook, ["bob"])
