"""Re-checking every submission of an assignment, resumably.

:func:`recheck_assignment` runs a :class:`~.recheck.Session` over the
submissions, writes each verdict into nbgrader's gradebook
(:func:`autograder.gradebook.write_verdicts`) and records its progress per
student (:mod:`.results`), so that an interrupted run resumes where it
stopped.
"""

from __future__ import annotations

import contextlib
import os
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .. import gradebook, paths
from ..nbgrader_config import course_config
from .recheck import Session
from .results import RecheckReport, load_state, save_state
from .sandbox import Limits

__all__ = ["recheck_assignment"]


def recheck_assignment(
    course_root: str | os.PathLike,
    assignment_id: str,
    students: Iterable[str] | None = None,
    *,
    submissions: str | os.PathLike | None = None,
    db_url: str | None = None,
    state_dir: str | os.PathLike | None = None,
    limits: Limits | None = None,
    resume: bool = True,
    write: bool = True,
    out: Callable[[str], None] | None = print,
    session: Session | None = None,
) -> RecheckReport:
    """Re-check an assignment's submissions and let the verdict decide.

    Call it after ``nbgrader autograde`` (the ``autograde`` command does).
    Each student's submitted notebooks (``<submissions>/<student>/
    <assignment_id>/``) are re-checked in an isolated process; where the
    trusted score of a test cell differs from the gradebook's, it becomes
    the manual score, with a comment saying why
    (:func:`autograder.gradebook.write_verdicts`).

    Resumable: each student's verdict is committed to the gradebook, then
    recorded in ``<state dir>/trusted/<assignment>.json`` with a fingerprint
    of everything it depends on (submitted and autograded notebooks, source
    notebook, declarations, hidden inputs); a student whose fingerprint is
    recorded is skipped.

    Parameters
    ----------
    course_root : path holding ``solutions/``.
    assignment_id : str
    students : names, optional (default: every submission found).
    submissions : folder laid out ``<student>/<assignment>/*.ipynb``
        (default: nbgrader's submitted directory of the course).
    db_url : nbgrader gradebook (default: the course's).
    state_dir : where the progress file goes (default: the course state).
    limits : :class:`~autograder.trusted.sandbox.Limits` of each child.
    resume : skip students already re-checked with the same fingerprint.
    write : write verdicts into the gradebook (False: only report).
    out : where progress lines go (None: silent).
    session : a :class:`Session` of this assignment made *before*
        ``nbgrader autograde`` ran (with :meth:`Session.snapshot` of the
        submissions): then nothing the verdict depends on (source notebook,
        declarations, expected outputs, the submitted notebooks, the child's
        code) is read after student code ran unconfined in nbgrader's
        kernels. Left open. Default: a new session, closed at the end.

    Returns a :class:`~.results.RecheckReport`: per student the trusted
    scores, the grades changed, the scan's flags and the time taken.
    """
    started = time.perf_counter()
    root = Path(course_root).resolve()
    config = course_config(root)
    run = _Run(
        assignment=assignment_id,
        db_url=(db_url or config.CourseDirectory.db_url) if write else None,
        submissions=Path(submissions or config.CourseDirectory.submitted_directory),
        autograded=Path(config.CourseDirectory.autograded_directory),
        state_dir=Path(state_dir) if state_dir else paths.state_dir(),
        resume=resume,
        say=out or (lambda line: None),
    )
    if students is None:
        students = paths.submitted_students(run.submissions, assignment_id)
    report = RecheckReport(assignment_id)
    with _session(session, root, assignment_id, limits) as session:
        report.sandbox = session.sandbox_report
        report.children = session.children
        report.notes += session.unsupported_notes()
        state = load_state(run.state_dir, assignment_id)
        for student in students:
            run.student(session, student, state, report)
    report.seconds = time.perf_counter() - started
    return report


@contextlib.contextmanager
def _session(given: Session | None, root, assignment: str, limits) -> Iterator:
    """The session given (left open), or a new one (closed at the end)."""
    if given is None:
        with Session(root, assignment, limits=limits) as session:
            yield session
        return
    if given.assignment != assignment:
        raise ValueError(
            f"a session of {given.assignment!r} cannot re-check {assignment!r}"
        )
    yield given


@dataclass
class _Run:
    """One :func:`recheck_assignment`: where things are, and per student."""

    assignment: str
    db_url: str | None  # None: write nothing
    submissions: Path
    autograded: Path
    state_dir: Path
    resume: bool
    say: Callable[[str], None]

    def student(self, session: Session, student: str, state: dict, report) -> None:
        """Re-check one student (unless done already) and record it."""
        folder = self.submissions / student / self.assignment
        notebooks = {s.name: folder / f"{s.name}.ipynb" for s in session.sources}
        graded = [
            self.autograded / student / self.assignment / f"{s.name}.ipynb"
            for s in session.sources
        ]
        fingerprint = session.fingerprint(student, notebooks, graded)
        entry = state["students"].get(student)
        if (
            self.resume
            and entry
            and entry.get("fingerprint") == fingerprint
            and entry.get("status") == "done"
        ):
            report.skipped.append(student)
            return
        try:
            result = session.recheck_submission(student, notebooks)
            changes, notes = [], []
            if self.db_url is not None:
                changes, notes = gradebook.write_verdicts(
                    self.db_url, self.assignment, student, result
                )
        except Exception as err:  # one broken submission never stops the rest
            report.failed[student] = f"{type(err).__name__}: {err}"
            self.say(f"  {student}: NOT RE-CHECKED ({err})")
            traceback.print_exc()
            return
        report.results[student] = result
        report.changes += changes
        report.notes += [f"{student}: {n}" for n in notes]
        state["students"][student] = {
            "fingerprint": fingerprint,
            "status": "done",
            "score": result.score,
            "max_score": result.max_score,
            "parts": result.parts(),
            "misconceptions": result.misconceptions(),
            "changed": [str(c) for c in changes],
            "flags": [str(f) for f in result.flags],
            "seconds": round(result.seconds, 3),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        save_state(self.state_dir, self.assignment, state)
        mark = " (grade changed)" if changes else ""
        self.say(
            f"  trusted {student}: {result.score:g} / {result.max_score:g} "
            f"in {result.seconds:.2f} s{mark}"
        )
