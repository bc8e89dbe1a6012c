"""One unit of grading, as a Dask worker runs it: :func:`grade_unit`.

For one student's submission of one assignment, in this order (the order
the serial command always had):

1. the assignment's trusted re-check :class:`~autograder.trusted.Session`
   (made once per worker process and assignment, before this worker runs
   any student code of it) snapshots the submitted notebooks;
2. nbgrader autogrades the submission
   (:func:`autograder.pipeline.autograde_submission`: planted links and
   files, deleted or retyped grade cells, a kernel that died: each a reason
   for manual grading, never an exception);
3. the trusted re-check grades it again and writes its verdict
   (:func:`autograder.trusted.recheck_assignment` of this one student);
4. the submission is flagged for manual grading where a reason was found.

Gradebook writes go to ``job.db_url`` when workers write the course
gradebook directly (PostgreSQL); otherwise to a scratch copy of the SQLite
gradebook that the coordinator merges, so that only one process ever
writes the course's SQLite file. Everything comes back as a
:class:`UnitRecord`.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import shutil
import socket
import sqlite3
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from .. import declarations, gradebook
from ..checks import DEFERRED_ENV
from ..nbgrader_config import course_config
from ..pipeline import autograde_submission, kernel_settings, prepare_environment
from ..trusted import Limits, Session, TrustedRecheckError, recheck_assignment
from ..trusted.kernel_launcher import DENY_ENV
from ..trusted.results import RecheckReport, load_state
from .units import Unit
from .warmup import warm_numba_cache

__all__ = ["UnitJob", "UnitRecord", "Timings", "grade_unit", "SCRATCH_FOLDER"]

# Under the state folder: each unit's scratch gradebook and re-check state.
SCRATCH_FOLDER = "grading/units"

# What the kernels and the re-check's children inherit: one thread each,
# so N workers use N cores (Dask's nanny sets the BLAS ones already).
ONE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}


@dataclass(frozen=True)
class UnitJob:
    """Everything a worker needs to grade one unit (plain data: it travels).

    ``db_url``: the gradebook the worker writes (PostgreSQL), or None to
    write a scratch copy of ``template`` (the course's SQLite gradebook as
    it was when the run began) that the coordinator merges. ``deny``: a
    folder nbgrader's kernels may not read (the submissions), or None.
    """

    unit: Unit
    root: str
    submissions: str
    state_dir: str
    timeout: int | None
    db_url: str | None
    template: str | None
    deny: str | None


@dataclass
class Timings:
    """Seconds spent on one unit, by step."""

    # once per worker process (and assignment): the Numba cache warm-up and
    # the trusted session's preparation
    session: float = 0.0
    kernel_start: float = 0.0  # nbgrader until the kernel ran its first cell
    execution: float = 0.0  # the notebook's cells in nbgrader's kernel
    nbgrader: float = 0.0  # all of nbgrader's autograde (both above included)
    recheck: float = 0.0  # the trusted re-check, verdict written
    total: float = 0.0  # the whole unit, on the worker

    @property
    def overhead(self) -> float:
        """Everything but the notebook's own cells."""
        return max(self.total - self.execution, 0.0)


@dataclass
class UnitRecord:
    """What grading one unit found, for the coordinator to record.

    ``problems``: reasons for manual grading from nbgrader's side (empty:
    none); ``recheck``: the trusted re-check's report of this student;
    ``recheck_entry``: its record for ``python -m autograder report``;
    ``scratch_db``: the scratch SQLite gradebook to merge (None: written
    directly); ``fatal``: the assignment cannot be graded at all.
    """

    unit: Unit
    problems: list[str] = field(default_factory=list)
    recheck: RecheckReport | None = None
    recheck_entry: dict | None = None
    scratch_db: str | None = None
    scores: tuple | None = None
    fatal: str = ""
    worker: str = ""
    timings: Timings = field(default_factory=Timings)


# The trusted sessions of this worker process, by (root, assignment, timeout,
# digest of the assignment's sources).
_SESSIONS: dict[tuple, Session] = {}


def _close_sessions() -> None:
    for session in _SESSIONS.values():
        session.close()
    _SESSIONS.clear()


atexit.register(_close_sessions)


def _session(root: Path, assignment: str, timeout: int | None) -> Session:
    """This process's session of the assignment, made again when its source
    notebooks or declarations changed (a cluster's workers outlive runs)."""
    digest = hashlib.sha256()
    for path in sorted((root / "solutions" / assignment).glob("*.ipynb")):
        digest.update(path.read_bytes())
    with contextlib.suppress(LookupError):  # undeclared: the session says
        module = declarations.load_assignment(assignment)
        digest.update(Path(module.__file__).read_bytes())
    key = (str(root), assignment, timeout, digest.hexdigest())
    for stale in [k for k in _SESSIONS if k[:3] == key[:3] and k != key]:
        _SESSIONS.pop(stale).close()
    if key not in _SESSIONS:
        _SESSIONS[key] = Session(
            root, assignment, limits=Limits(step_seconds=timeout or 30)
        )
    return _SESSIONS[key]


def _prepare_process(job: UnitJob) -> None:
    """This process's settings for grading (idempotent; a remote worker
    gets them from the job, not from the coordinator's environment)."""
    os.environ["AUTOGRADER_STATE_DIR"] = job.state_dir
    os.environ.update(ONE_THREAD)
    # nbgrader 0.9 with SQLAlchemy 2 warns about its own session handling
    # while creating submissions (as in the command line: harmless).
    warnings.filterwarnings("ignore", message=r"Object of type <Submitted")
    prepare_environment(Path(job.root))
    warm_numba_cache()


def scratch_folder(state_dir: str | Path, unit: Unit) -> Path:
    return Path(state_dir) / SCRATCH_FOLDER / unit.assignment / unit.student


def _unit_gradebook(job: UnitJob, scratch: Path) -> str:
    """The URL this unit writes: the shared one, or a fresh scratch copy."""
    if job.db_url is not None:
        return job.db_url
    target = scratch / "gradebook.db"
    target.unlink(missing_ok=True)
    with sqlite3.connect(job.template) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return f"sqlite:///{target}"


def grade_unit(job: UnitJob) -> UnitRecord:
    """Grade one unit (runs on a Dask worker; see the module's docstring)."""
    started = time.perf_counter()
    unit, root = job.unit, Path(job.root)
    record = UnitRecord(unit, worker=f"{socket.gethostname()}:{os.getpid()}")
    _prepare_process(job)  # once per process: counted with the session
    record.timings.session = time.perf_counter() - started
    scratch = scratch_folder(job.state_dir, unit)
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True, mode=0o700)
    db_url = _unit_gradebook(job, scratch)
    record.scratch_db = None if job.db_url is not None else db_url
    try:
        begin = time.perf_counter()
        trusted = _session(root, unit.assignment, job.timeout)
        record.timings.session += time.perf_counter() - begin
    except TrustedRecheckError as err:
        record.fatal = f"trusted re-check of {unit.assignment}: {err}"
        return record
    submissions = Path(job.submissions)
    trusted.snapshot(submissions, [unit.student])
    with kernel_settings(**{DENY_ENV: job.deny, DEFERRED_ENV: "1"}):
        _nbgrader(job, db_url, record)
    if unscored := trusted.unscored_hidden():
        record.problems.append(
            "hidden tests the trusted re-check cannot score: " + ", ".join(unscored)
        )
    if record.problems:
        gradebook.flag_for_manual_grading(db_url, unit.assignment, unit.student)
    begin = time.perf_counter()
    try:
        record.recheck = recheck_assignment(
            root,
            unit.assignment,
            [unit.student],
            submissions=submissions,
            db_url=db_url,
            state_dir=scratch,
            resume=False,
            out=None,
            session=trusted,
        )
    except TrustedRecheckError as err:
        record.fatal = f"trusted re-check of {unit.assignment}: {err}"
        gradebook.flag_for_manual_grading(db_url, unit.assignment, unit.student)
        return record
    record.timings.recheck = time.perf_counter() - begin
    if unit.student in record.recheck.failed:
        gradebook.flag_for_manual_grading(db_url, unit.assignment, unit.student)
    students = load_state(scratch, unit.assignment)["students"]
    record.recheck_entry = students.get(unit.student)
    record.scores = gradebook.submission_scores(db_url, unit.assignment, unit.student)
    record.timings.total = time.perf_counter() - started
    return record


def _nbgrader(job: UnitJob, db_url: str, record: UnitRecord) -> None:
    """nbgrader's autograde of the unit, timed: kernel start, then cells."""
    marks: dict[str, float] = {}
    config = course_config(job.root, submitted=job.submissions, timeout=job.timeout)
    config.CourseDirectory.db_url = db_url
    config.Execute.on_notebook_start = lambda **_: marks.setdefault(
        "start", time.perf_counter()
    )
    config.Execute.on_notebook_complete = lambda **_: marks.setdefault(
        "end", time.perf_counter()
    )
    config.Execute.on_notebook_error = config.Execute.on_notebook_complete
    begin = time.perf_counter()
    record.problems += autograde_submission(
        Path(job.root),
        config,
        Path(job.submissions),
        job.unit.assignment,
        job.unit.student,
    )
    end = time.perf_counter()
    record.timings.nbgrader = end - begin
    first = marks.get("start", end)
    record.timings.kernel_start = first - begin
    record.timings.execution = marks.get("end", end) - first
