"""Every read and write of nbgrader's gradebook (``nbgrader.api.Gradebook``).

* :func:`flag_for_manual_grading`, :func:`submission_scores`: what the
  autograde command marks and reports;
* :func:`write_verdicts`: the trusted re-check's verdict (below);
* :func:`class_scores`: every submission's score per test cell, for the
  class report (:mod:`autograder.report`);
* :func:`ensure_course`, :func:`ensure_students`, :func:`submitted`,
  :func:`copy_submission`: what a grading run (:mod:`autograder.grading`)
  needs before its workers write, and the merge of a worker's scratch
  gradebook into the course's SQLite one.

The trusted verdict
-------------------

nbgrader keeps, for each test cell of a submission, an ``auto_score`` (what
the tests scored in the student's kernel) and a ``manual_score`` (set by a
grader); the score formgrader and the exports show is the manual one when
set. Where the trusted score of a cell differs from that score, it becomes
the manual score, and the answer cell(s) the test exercises get a comment
(``manual_comment``, shown in formgrader and in the feedback) that says
what nbgrader found, what the trusted re-check found and why. A grader's
own comment text is kept; the re-check's part starts with :data:`MARK` and
is replaced on every run, or removed when the two verdicts agree again.

When only hidden checks failed, and the kernel's run passed the cell (it
defers hidden tests: ``autograder/HIDDEN_TESTS.md``), that is not a
disagreement but the hidden tests' score: the comment says "hidden test
scored by the trusted re-check".

``needs_manual_grade`` is left as it is: the pipeline sets it for
submissions a person must look at (a dead kernel, a deleted test cell).
"""

from __future__ import annotations

from nbgrader.api import BaseCell, Course, Gradebook, MissingEntry

from .trusted.results import Change, SubmissionResult

__all__ = [
    "MARK",
    "write_verdicts",
    "merge_comment",
    "flag_for_manual_grading",
    "submission_scores",
    "class_scores",
    "ensure_course",
    "ensure_students",
    "submitted",
    "copy_submission",
]

MARK = "[trusted re-check]"


def _fmt(value) -> str:
    return "no score" if value is None else f"{value:g}"


def merge_comment(existing: str | None, blocks: list[str]) -> str | None:
    """A grader's text (kept) followed by the re-check's blocks (replaced)."""
    human = existing or ""
    if MARK in human:
        human = human[: human.index(MARK)]
    human = human.rstrip()
    parts = ([human] if human else []) + blocks
    return "\n\n".join(parts) if parts else None


def _deferred(part, auto) -> bool:
    """Only hidden checks failed, and the kernel's run passed the cell.

    The kernel left those hidden checks to the re-check, so the difference
    is the hidden tests' score, not a disagreement.
    """
    return (
        part.hidden_only
        and auto is not None
        and abs(auto - part.max_score) <= 1e-9
        and part.trusted is not None
        and part.trusted < part.max_score
    )


def _block(part, auto, before) -> str:
    verdict = f"{_fmt(part.trusted)} / {_fmt(part.max_score)}"
    if _deferred(part, auto):
        text = f"{MARK} {part.grade_id}: {verdict}; hidden test scored by the "
        text += "trusted re-check: " + "\n".join(m[:600] for m in part.messages[:4])
        text += (
            "\nThe visible tests pass; the hidden ones call your code on other "
            "inputs, in a separate process, after autograding."
        )
        return text
    text = (
        f"{MARK} {part.grade_id}: {verdict}; the tests in the notebook's kernel "
        f"gave {_fmt(auto)}"
    )
    if before is not None and before not in (auto, part.trusted):
        text += f" and the gradebook showed {_fmt(before)}"
    text += (
        ". The re-check runs your answer cells in a separate, isolated process, "
        "with the test cells taken from the assignment, and its verdict counts."
    )
    if part.messages:
        text += "\n" + "\n".join(m[:600] for m in part.messages[:4])
    elif part.trusted == part.max_score:
        text += (
            "\nYour answers pass the assignment's tests when run on their own "
            "(the notebook's own run failed elsewhere: a test cell deleted or "
            "changed, or the kernel stopped)."
        )
    return text


def write_verdicts(
    db_url: str, assignment: str, student: str, result: SubmissionResult
) -> tuple[list[Change], list[str]]:
    """Make the gradebook show the trusted scores of one submission.

    Returns ``(changes, notes)``: the grades whose score changed, and what
    could not be written (e.g. nbgrader has no record of the submission).
    Committed once, at the end, so a crash leaves the submission as it was.
    """
    changes: list[Change] = []
    notes: list[str] = []
    with Gradebook(db_url) as gb:
        try:
            gb.find_submission(assignment, student)
        except MissingEntry:
            return [], ["nbgrader has no submission record: nothing written"]
        for notebook in result.notebooks:
            blocks: dict[str, list[str]] = {}
            answers_seen: set[str] = set()
            for part in notebook.parts.values():
                answers_seen.update(part.answer_cells)
                if part.trusted is None:
                    continue
                try:
                    grade = gb.find_grade(
                        part.grade_id, notebook.notebook, assignment, student
                    )
                except MissingEntry:
                    notes.append(f"no gradebook entry for {part.grade_id}")
                    continue
                auto, manual = grade.auto_score, grade.manual_score
                before = manual if manual is not None else auto
                if before is None or abs(before - part.trusted) > 1e-9:
                    grade.manual_score = part.trusted
                    changes.append(
                        Change(
                            student,
                            notebook.notebook,
                            part.grade_id,
                            auto,
                            before,
                            part.trusted,
                            part.max_score,
                            hidden=_deferred(part, auto),
                        )
                    )
                disagree = auto is None or abs(auto - part.trusted) > 1e-9
                if disagree or (before is not None and before != part.trusted):
                    for answer in part.answer_cells:
                        blocks.setdefault(answer, []).append(_block(part, auto, before))
            for answer in sorted(answers_seen):
                try:
                    comment = gb.find_comment(
                        answer, notebook.notebook, assignment, student
                    )
                except MissingEntry:
                    if answer in blocks:
                        notes.append(f"no comment entry for {answer}")
                    continue
                merged = merge_comment(comment.manual_comment, blocks.get(answer, []))
                if merged != comment.manual_comment:
                    comment.manual_comment = merged
        gb.db.commit()
    return changes, notes


def flag_for_manual_grading(db_url: str, assignment: str, student: str) -> None:
    """Mark the submission in the gradebook so formgrader lists it."""
    with Gradebook(db_url) as gb:
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            return
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.needs_manual_grade = True
        gb.db.commit()


def submission_scores(db_url: str, assignment: str, student: str):
    """``(score, max_score, {grade_id: (score, max_score)})``, or None if
    nbgrader has no record of the submission."""
    with Gradebook(db_url) as gb:
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            return None
        parts = {
            grade.name: (grade.score, grade.max_score)
            for notebook in submission.notebooks
            for grade in notebook.grades
        }
        return submission.score, submission.max_score, parts


def class_scores(db_url: str, assignment: str) -> dict[str, dict[str, tuple]]:
    """``{student: {grade_id: (score, max_score)}}`` of every submission.

    The score is the one formgrader shows (the manual score when set, so
    the trusted re-check's verdict). Students without a submission are left
    out.
    """
    scores: dict[str, dict[str, tuple]] = {}
    with Gradebook(db_url) as gb:
        for student in gb.students:
            try:
                submission = gb.find_submission(assignment, student.id)
            except MissingEntry:
                continue
            scores[student.id] = {
                grade.name: (grade.score, grade.max_score)
                for notebook in submission.notebooks
                for grade in notebook.grades
            }
    return scores


def ensure_course(db_url: str, course_id: str = "") -> None:
    """Give the gradebook the course row nbgrader's records point to.

    nbgrader files assignments under its ``CourseDirectory.course_id``,
    empty by default, but only creates a course row for a non-empty id:
    SQLite does not check the reference, PostgreSQL refuses every
    assignment without it.
    """
    with Gradebook(db_url) as gb:
        if gb.db.get(Course, course_id) is None:
            gb.db.add(Course(id=course_id))
            gb.db.commit()


def submitted(db_url: str) -> set[tuple[str, str]]:
    """Every ``(assignment, student)`` with a submission in the gradebook."""
    with Gradebook(db_url) as gb:
        return {
            (assignment.name, submission.student.id)
            for assignment in gb.assignments
            for submission in assignment.submissions
        }


def ensure_students(db_url: str, students) -> None:
    """Create the students the gradebook lacks (before workers grade them:
    two workers creating the same student at once would collide)."""
    with Gradebook(db_url) as gb:
        known = {student.id for student in gb.students}
        for student in sorted(set(students) - known):
            gb.add_student(student)


_GRADE_FIELDS = ("auto_score", "manual_score", "extra_credit", "needs_manual_grade")
_COMMENT_FIELDS = ("auto_comment", "manual_comment")


def copy_submission(source_url: str, target_url: str, assignment: str, student: str):
    """Copy one submission's record from gradebook ``source_url`` into
    ``target_url``, replacing what the target held for it: its timestamp,
    and per notebook the flag, late penalty, every grade and comment.

    The assignment's cells must already be in the target (they are: the
    grading run syncs them before any worker starts). Committed once, at
    the end. Returns False if the source has no record of the submission.
    """
    with Gradebook(source_url) as src:
        try:
            given = src.find_submission(assignment, student)
        except MissingEntry:
            return False
        cells = _load_cells(src)  # noqa: F841 (kept while the names load)
        timestamp, extension = given.timestamp, given.extension
        notebooks = {
            nb.name: (
                nb.flagged,
                nb.late_submission_penalty,
                {g.name: [getattr(g, f) for f in _GRADE_FIELDS] for g in nb.grades},
                {c.name: [getattr(c, f) for f in _COMMENT_FIELDS] for c in nb.comments},
            )
            for nb in given.notebooks
        }
    with Gradebook(target_url) as gb:
        gb.update_or_create_student(student)
        submission = gb.update_or_create_submission(
            assignment, student, timestamp=timestamp, extension=extension
        )
        cells = _load_cells(gb)  # noqa: F841 (kept while the names load)
        # one flush at the commit, not one per attribute read between writes
        with gb.db.no_autoflush:
            _copy_notebooks(submission, notebooks)
        gb.db.commit()
    return True


def _load_cells(gb: Gradebook) -> list:
    """Every cell of the gradebook loaded into its session in one query: a
    grade's or comment's ``name`` is its cell's, which would otherwise cost
    a query per grade. Keep the list while reading names: the session holds
    what it loaded only as long as something else does."""
    return gb.db.query(BaseCell).all()


def _copy_notebooks(submission, notebooks: dict) -> None:
    """Set ``submission``'s notebooks, grades and comments to ``notebooks``
    (as :func:`copy_submission` read them)."""
    for notebook in submission.notebooks:
        if notebook.name not in notebooks:
            continue
        flagged, penalty, grades, comments = notebooks[notebook.name]
        notebook.flagged, notebook.late_submission_penalty = flagged, penalty
        for grade in notebook.grades:
            if grade.name in grades:
                values = zip(_GRADE_FIELDS, grades[grade.name], strict=True)
                for name, value in values:
                    setattr(grade, name, value)
        for comment in notebook.comments:
            if comment.name in comments:
                values = zip(_COMMENT_FIELDS, comments[comment.name], strict=True)
                for name, value in values:
                    setattr(comment, name, value)
