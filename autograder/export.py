"""The grades as rows of a table, from nbgrader's gradebook (``export``).

One row per graded submission: which assignment and student, when it was
submitted and how late, the score, and what still needs a person. Two
different things need one:

* ``needs_manual_grade``: the autograder *flagged* the submission, with a
  reason (the kernel died, a test cell was deleted, the trusted re-check
  could not score it...): its score cannot be trusted until someone looks.
  The reasons come from the autograde command's manual-grading list
  (``needs_manual_grading.json``), not from nbgrader, which marks every
  submission with a written answer as needing manual grading.
* ``written_answers_to_grade``: written (markdown) answers nobody has graded
  yet in formgrader. Routine work, not a problem; they count 0 in ``score``
  until graded.

By default only the submissions in the gradebook get a row; with
``full_matrix`` every assignment and student of the gradebook does, with a
``no submission`` row where a student submitted nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import astuple, dataclass, fields
from datetime import datetime

__all__ = ["GradeRow", "COLUMNS", "NO_SUBMISSION", "NO_TIMESTAMP", "grade_rows"]

NO_SUBMISSION = "no submission"
NO_TIMESTAMP = "unknown (no timestamp.txt)"


@dataclass(frozen=True)
class GradeRow:
    """One line of the grades table.

    ``timestamp`` is when the work was submitted (UTC, ISO 8601), as nbgrader
    read it from the submission's ``timestamp.txt``; ``NO_TIMESTAMP`` where
    there was none (no time is made up: it would decide lateness), empty in
    a ``no submission`` row. ``seconds_late`` is 0 when on time, when the
    time is unknown, or when the assignment has no due date in the
    gradebook.
    """

    assignment: str
    student_id: str
    timestamp: str
    seconds_late: float
    score: float
    max_score: float
    needs_manual_grade: bool
    written_answers_to_grade: int
    reason: str

    def as_csv(self) -> tuple:
        """The row's values as the CSV writes them (``yes``/``no`` for flags)."""
        return tuple(
            ("yes" if value else "no") if isinstance(value, bool) else value
            for value in astuple(self)
        )


COLUMNS = tuple(field.name for field in fields(GradeRow))


def _iso(moment: datetime | None) -> str:
    if moment is None:
        return NO_TIMESTAMP
    return moment.isoformat(sep=" ", timespec="seconds")


def _written_answers_to_grade(submission) -> int:
    """Markdown grade cells whose grade is still waiting for a person."""
    return sum(
        1
        for notebook in submission.notebooks
        for grade in notebook.grades
        if grade.cell_type == "markdown" and grade.needs_manual_grade
    )


def grade_rows(
    gradebook,
    flagged: Mapping[str, Mapping[str, str]],
    *,
    full_matrix: bool = False,
) -> list[GradeRow]:
    """The table's rows, sorted by assignment then student.

    Parameters
    ----------
    gradebook : nbgrader.api.Gradebook
        An open gradebook.
    flagged : {assignment: {student: reason}}
        The autograder's manual-grading list (``needs_manual_grading.json``).
    full_matrix : bool
        One row for every assignment and every student of the gradebook, a
        ``no submission`` row where there is none (default: only the
        submissions).
    """
    if not isinstance(flagged, Mapping):
        raise TypeError(
            "flagged must map assignment -> {student: reason}, received "
            f"{type(flagged).__name__}"
        )
    rows = []
    students = sorted(student.id for student in gradebook.students)
    for assignment in sorted(gradebook.assignments, key=lambda a: a.name):
        submitted = {s.student.id: s for s in assignment.submissions}
        for student in students if full_matrix else sorted(submitted):
            submission = submitted.get(student)
            if submission is None:
                rows.append(
                    GradeRow(
                        assignment.name,
                        student,
                        "",
                        0.0,
                        0.0,
                        assignment.max_score,
                        False,
                        0,
                        NO_SUBMISSION,
                    )
                )
                continue
            reason = flagged.get(assignment.name, {}).get(student, "")
            rows.append(
                GradeRow(
                    assignment.name,
                    student,
                    _iso(submission.timestamp),
                    submission.total_seconds_late,
                    submission.score,
                    submission.max_score,
                    bool(reason),
                    _written_answers_to_grade(submission),
                    reason,
                )
            )
    return rows
