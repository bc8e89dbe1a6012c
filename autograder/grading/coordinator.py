"""Autograde a class: the units on a Dask cluster, the results recorded here.

:func:`autograde` plans one unit per submitted ``<student>/<assignment>``
(:mod:`.units`), leaves out those the ledger lists as graded with the same
content (:mod:`.ledger`), and submits the rest to a
:class:`distributed.Client`: a ``LocalCluster`` of ``workers`` processes
(one thread each; default one per core) or, with ``scheduler``, an
existing cluster. Serial grading is one worker: the same path.

As units complete (in any order) this process records them: with a
SQLite gradebook it merges the worker's scratch gradebook into the course's
(the only process that writes it), and then, for PostgreSQL too, the
trusted re-check's record (read by ``python -m autograder report``), the
manual-grading list and last the ledger. A worker that dies is replaced by
Dask and its unit runs again; a unit that fails twice (its worker died
twice, or it raised twice) goes to the manual-grading list with the reason
and the others go on. When an assignment's last unit is in,
:func:`_assignment_done` runs the per-assignment steps.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dask
from distributed import Client, LocalCluster, as_completed

from .. import copies, declarations, gradebook, paths, review
from ..nbgrader_config import course_config
from ..pipeline import (
    CommandError,
    course_assignments,
    generate_release,
    load_manual,
    save_manual,
)
from ..trusted.kernel_launcher import holds_needed
from ..trusted.results import RecheckReport, load_state, save_state
from .ledger import Ledger
from .progress import Progress, timing_lines
from .units import Unit, plan_units
from .warmup import warm_numba_cache
from .worker import SCRATCH_FOLDER, Timings, UnitJob, UnitRecord, grade_unit

__all__ = ["autograde", "AutogradeResult", "GRADING_FOLDER", "UNIT_RETRIES"]

# Under the state folder: the ledgers, the SQLite template, unit scratch.
GRADING_FOLDER = "grading"
# A unit runs at most 1 + UNIT_RETRIES times (worker deaths or exceptions).
UNIT_RETRIES = 1
# Dask's diagnostics for a dashboard nobody watches while grading: the
# workers' statistical profiler (a stack sample every 10 ms), the event-loop
# health tick (every 20 ms) and the system monitor (every 500 ms). Measured
# on 01_backprop with one worker, they cost about 0.8 CPU-second per unit in
# the worker and this process, which on a 2-core machine is taken from the
# kernels of the other worker. The profiler is off; the tick and the monitor
# run seldom, so a blocked event loop is still reported.
QUIET_DIAGNOSTICS = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.admin.system-monitor.disk": False,
}


@dataclass
class AutogradeResult:
    """``scores[assignment][student] = (score, max_score, {grade_id: (score,
    max)})`` (None: nbgrader has no record), ``manual[assignment][student] =
    reason`` for the submissions that need manual grading, ``unchanged``
    the units left alone (graded before, same content), and the timings."""

    scores: dict[str, dict] = field(default_factory=dict)
    manual: dict[str, dict[str, str]] = field(default_factory=dict)
    unchanged: set[tuple[str, str]] = field(default_factory=set)
    timings: list[Timings] = field(default_factory=list)
    workers: int = 0
    seconds: float = 0.0

    def timing_lines(self) -> list[str]:
        return timing_lines(self.timings, self.seconds, self.workers)


def _check_args(workers, scheduler, db_url) -> None:
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise CommandError(
            f"--workers must be a whole number >= 1, received {workers!r}"
        )
    if workers is not None and scheduler:
        raise CommandError("give --workers (a local cluster) or --scheduler, not both")
    if db_url and not db_url.startswith(("sqlite:///", "postgresql")):
        raise CommandError(
            "--db must be an SQLAlchemy URL sqlite:///PATH or "
            f"postgresql://USER@HOST:PORT/NAME, received {db_url!r}"
        )


@contextlib.contextmanager
def _client(workers: int | None, scheduler: str | None) -> Iterator[Client]:
    """A client of the given cluster, or of a new local one (closed after)."""
    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    settings = {
        "distributed.scheduler.allowed-failures": UNIT_RETRIES,
        **QUIET_DIAGNOSTICS,
    }
    with (
        dask.config.set(settings),
        LocalCluster(
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            memory_limit=0,  # the kernels are other processes; no nanny kills
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def autograde(
    root: Path,
    submissions: Path,
    assignments: Sequence[str] | None,
    timeout: int | None = None,
    say: Callable[[str], None] = print,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    db_url: str | None = None,
    verbose: bool = False,
) -> AutogradeResult:
    """Autograde every ``<student>/<assignment>`` under ``submissions`` that is
    new or changed since the last run (see the module's docstring).

    ``db_url``: the gradebook (default the course's SQLite file);
    ``workers``: size of the local cluster (default one per core);
    ``scheduler``: address of an existing Dask scheduler instead.
    """
    _check_args(workers, scheduler, db_url)
    # nbgrader 0.9 with SQLAlchemy 2 warns about its own session handling
    # while creating submissions (merges included): harmless.
    warnings.filterwarnings("ignore", message=r"Object of type <Submitted")
    if not submissions.is_dir():
        raise CommandError(f"no submissions folder {submissions}")
    by_assignment = paths.submitted_students(submissions)
    wanted = list(assignments) if assignments else sorted(by_assignment)
    unknown = [a for a in wanted if a not in course_assignments(root)]
    if unknown:
        raise CommandError(f"submissions for unknown assignment(s): {unknown}")
    if not any(by_assignment.get(a) for a in wanted):
        raise CommandError(f"no submissions found under {submissions}")
    db_url = db_url or course_config(root).CourseDirectory.db_url
    # nbgrader's kernels may not read the submissions either (unless they
    # hold what the kernels need), and leave every hidden test to the re-check
    deny = None
    if holds_needed(submissions):
        say(f"warning: kernels may read {submissions}: it holds what they need")
    else:
        deny = str(submissions)
    gradebook.ensure_course(db_url)
    with tempfile.TemporaryDirectory(prefix="autograder-sync-") as tmp:
        # The gradebook must know the assignment's cells: generate it (into a
        # scratch folder, leaving notebooks/ alone) with the database on.
        generate_release(root, wanted, Path(tmp), db_url=db_url)
    units = plan_units(root, submissions, {a: by_assignment.get(a, []) for a in wanted})
    run = _Run(root, submissions, timeout, db_url, deny, say, verbose)
    return run.grade(units, workers, scheduler)


class _Run:
    """One grading run: submits the units, records what comes back."""

    def __init__(self, root, submissions, timeout, db_url, deny, say, verbose):
        self.root, self.submissions, self.timeout = root, submissions, timeout
        self.db_url, self.deny, self.say, self.verbose = db_url, deny, say, verbose
        self.state = paths.state_dir()
        self.folder = self.state / GRADING_FOLDER
        self.ledger = Ledger(self.folder, db_url)
        self.result = AutogradeResult(manual=load_manual())
        self.recheck: dict[str, RecheckReport] = {}
        self.trusted_state: dict[str, dict] = {}
        # {assignment: {student: {part: source}}} for copy detection
        self.answers: dict[str, dict[str, dict[str, str]]] = {}

    def grade(self, units: list[Unit], workers, scheduler) -> AutogradeResult:
        started = time.perf_counter()
        # graded with this content, and still in the gradebook (which may
        # have been replaced since)
        present = gradebook.submitted(self.db_url)
        todo = [
            u
            for u in units
            if not (self.ledger.is_graded(u) and (u.assignment, u.student) in present)
        ]
        for unit in units:
            self.result.scores.setdefault(unit.assignment, {})
            if unit not in todo:
                self.result.unchanged.add((unit.assignment, unit.student))
                self.result.scores[unit.assignment][unit.student] = (
                    gradebook.submission_scores(
                        self.db_url, unit.assignment, unit.student
                    )
                )
        self.say(
            f"{len(units)} submission(s): {len(todo)} to grade, "
            f"{len(units) - len(todo)} unchanged since graded"
        )
        if todo:
            self._read_answers(units, todo)
            self._prepare(todo)
            with _client(workers, scheduler) as client:
                self.result.workers = len(client.scheduler_info()["workers"])
                self._submit_and_record(client, todo)
        self.result.seconds = time.perf_counter() - started
        save_manual(self.result.manual)
        return self.result

    def _read_answers(self, units: list[Unit], todo: list[Unit]) -> None:
        """The answer cells of every submission of the assignments graded in
        this run (the unchanged ones too: a new answer may copy an old one),
        read before any unit runs student code."""
        for assignment in sorted({u.assignment for u in todo}):
            students = [u.student for u in units if u.assignment == assignment]
            self.answers[assignment] = copies.read_answers(
                self.root, self.submissions, assignment, students
            )

    def _prepare(self, todo: list[Unit]) -> None:
        """Before any worker starts: students, template, scratch, Numba cache."""
        shutil.rmtree(self.state / SCRATCH_FOLDER, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        gradebook.ensure_students(self.db_url, {u.student for u in todo})
        self.template = None
        if self.db_url.startswith("sqlite:///"):
            # Workers grade into copies of the gradebook as it is now.
            self.template = self.folder / "template.db"
            self.template.unlink(missing_ok=True)
            source = self.db_url.removeprefix("sqlite:///")
            with sqlite3.connect(source) as src, sqlite3.connect(self.template) as dst:
                src.backup(dst)
        warm_numba_cache()

    def _job(self, unit: Unit) -> UnitJob:
        sqlite = self.template is not None
        return UnitJob(
            unit=unit,
            root=str(self.root),
            submissions=str(self.submissions),
            state_dir=str(self.state),
            timeout=self.timeout,
            db_url=None if sqlite else self.db_url,
            template=str(self.template) if sqlite else None,
            deny=self.deny,
        )

    def _submit_and_record(self, client: Client, todo: list[Unit]) -> None:
        remaining: dict[str, int] = {}
        for unit in todo:
            remaining[unit.assignment] = remaining.get(unit.assignment, 0) + 1
        futures = {}
        for unit in todo:
            future = client.submit(
                grade_unit,
                self._job(unit),
                key=f"grade-{unit.student}-{unit.assignment}-{unit.digest[:12]}",
                pure=False,
                retries=UNIT_RETRIES,
            )
            futures[future] = unit
        progress = Progress(len(todo), self.verbose, self.say)
        try:
            for future in as_completed(futures):
                unit = futures.pop(future)
                if future.status == "error":
                    failure = _failure(future.exception())
                    self._failed(unit, failure)
                    progress.done(None, unit.key, failure)
                else:
                    record = future.result()
                    if record.fatal:
                        raise CommandError(record.fatal)
                    self._record(record)
                    progress.done(record, unit.key)
                future.release()
                remaining[unit.assignment] -= 1
                if not remaining[unit.assignment]:
                    self._assignment_done(unit.assignment)
        finally:
            progress.close()
            for future in futures:
                future.cancel()
            save_manual(self.result.manual)

    def _set_manual(self, unit: Unit, reason: str) -> None:
        """The unit's entry in the manual-grading list ("": none)."""
        manual = self.result.manual.setdefault(unit.assignment, {})
        manual.pop(unit.student, None)
        if reason:
            manual[unit.student] = reason
        if not manual:
            del self.result.manual[unit.assignment]

    def _record(self, record: UnitRecord) -> None:
        """A graded unit: gradebook, re-check record, manual list, ledger."""
        unit = record.unit
        if record.scratch_db is not None:
            gradebook.copy_submission(
                record.scratch_db, self.db_url, unit.assignment, unit.student
            )
        report = record.recheck
        merged = self.recheck.setdefault(
            unit.assignment, RecheckReport(unit.assignment)
        )
        merged.results.update(report.results)
        merged.changes += report.changes
        merged.failed.update(report.failed)
        merged.notes += [n for n in report.notes if n not in merged.notes]
        merged.sandbox, merged.children = report.sandbox, report.children
        if record.recheck_entry is not None:
            state = self.trusted_state.setdefault(
                unit.assignment, load_state(self.state, unit.assignment)
            )
            state["students"][unit.student] = record.recheck_entry
            save_state(self.state, unit.assignment, state)
        reason = "; ".join(record.problems)
        if why := report.failed.get(unit.student):
            failed = f"trusted re-check failed, hidden tests not scored ({why})"
            reason = (f"{reason}; {failed}" if reason else failed)[:500]
        self._set_manual(unit, reason)
        save_manual(self.result.manual)
        self.result.scores[unit.assignment][unit.student] = record.scores
        self.result.timings.append(record.timings)
        self.ledger.record(unit)
        shutil.rmtree(
            self.state / SCRATCH_FOLDER / unit.assignment / unit.student, True
        )

    def _failed(self, unit: Unit, failure: str) -> None:
        """A unit that failed twice: listed for manual grading, not recorded
        in the ledger (the next run tries it again)."""
        self._set_manual(unit, f"grading failed twice: {failure}")
        gradebook.flag_for_manual_grading(self.db_url, unit.assignment, unit.student)
        self.result.scores[unit.assignment][unit.student] = gradebook.submission_scores(
            self.db_url, unit.assignment, unit.student
        )
        self.ledger.forget(unit)
        save_manual(self.result.manual)

    def _assignment_done(self, assignment: str) -> None:
        """Every unit of ``assignment`` in this run is graded and recorded:
        the per-assignment steps run here, once, in this process: the
        re-check's summary, then the scan's flags and copy detection across
        the class (reasons for review; the scores stand)."""
        report = self.recheck.get(assignment)
        if report is not None:
            report.print(self.say)
        module = declarations.load_assignment(assignment)
        review.review_assignment(
            self.root,
            self.db_url,
            assignment,
            self.result.manual.setdefault(assignment, {}),
            report or RecheckReport(assignment),
            self.answers.get(assignment, {}),
            getattr(module, "WITHHELD", []),
            self.say,
        )
        if not self.result.manual[assignment]:
            del self.result.manual[assignment]
        save_manual(self.result.manual)


def _failure(error: BaseException | None) -> str:
    """Why a unit failed, in a line (a dead worker, or what it raised)."""
    name = type(error).__name__
    if name == "KilledWorker":
        return "the worker grading it died each time (KilledWorker)"
    return f"{name}: {error}"[:300]
