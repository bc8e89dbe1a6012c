"""The steps of the instructor commands: release, references, validate,
autograde, feedback (``python -m autograder <command>``: :mod:`.cli`).

Each wraps nbgrader's own converters (``GenerateAssignment``,
``Autograde``, ``GenerateFeedback``) or its ``Validator``; gradebook reads
and writes are in :mod:`autograder.gradebook`. Autograde here is one
submission (:func:`autograde_submission`); grading a class, the trusted
re-check included, is :mod:`autograder.grading`. A step that cannot do its job raises
:class:`CommandError`; the command line prints it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import nbformat
import nbgrader
import nbgrader.api
from alembic.config import Config
from alembic.script import ScriptDirectory
from nbgrader.coursedir import CourseDirectory
from nbgrader.utils import capture_log
from nbgrader.validator import Validator

from . import paths
from .checks import compute_references
from .converters import SafeAutograde, SafeGenerateAssignment, SafeGenerateFeedback
from .declarations import load_assignment
from .lint import lint_assignment
from .nbgrader_config import course_config, kernel_environment
from .paths import ASSIGNMENT_ENV
from .release_check import release_problems, tree_differences
from .safe_files import planted
from .source import RELEASE_LEAKS, grade_id, nbgrader_meta

__all__ = [
    "CommandError",
    "prepare_environment",
    "course_assignments",
    "select_assignments",
    "generate_release",
    "stale_release",
    "lint",
    "write_references",
    "validate_notebook",
    "structure_problems",
    "autograde_submission",
    "kernel_settings",
    "save_manual",
    "generate_feedback",
    "load_manual",
    "MANUAL_FILE",
]

MANUAL_FILE = "needs_manual_grading.json"


class CommandError(Exception):
    """A failure the command reports and exits non-zero for."""


# ------------------------------------------------------------ environment


def prepare_environment(root: Path) -> None:
    """Settings inherited by every kernel nbgrader starts."""
    if os.environ.get(paths.SECRET_ENV):
        raise CommandError(
            f"unset ${paths.SECRET_ENV}: the course secret may not sit in an "
            "environment variable, which student code can read from its parent "
            f"processes; keep it in {paths.state_dir() / 'secret'} (mode 0600)"
        )
    os.environ["AUTOGRADER_COURSE_ROOT"] = str(root)
    paths.ensure_state_dir()
    kernel_environment()
    _use_inprocess_alembic_head()
    # nbgrader runs `alembic` (its database migrations) as a subprocess: make
    # this interpreter's scripts findable even when the venv is not activated.
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def course_assignments(root: Path) -> list[str]:
    """Assignment folders in ``solutions/`` (those holding a notebook)."""
    source = root / "solutions"
    if not source.is_dir():
        return []
    return sorted(
        d.name for d in source.iterdir() if d.is_dir() and any(d.glob("*.ipynb"))
    )


def select_assignments(root: Path, wanted: Sequence[str] | None) -> list[str]:
    available = course_assignments(root)
    if not wanted:
        if not available:
            raise CommandError(f"no assignments found in {root / 'solutions'}")
        return available
    unknown = [a for a in wanted if a not in available]
    if unknown:
        raise CommandError(
            f"unknown assignment(s) {', '.join(unknown)}; available: "
            f"{', '.join(available) or 'none'}"
        )
    return list(wanted)


def _alembic_head() -> str:
    """nbgrader's database schema version, read in-process.

    nbgrader asks a new ``alembic`` process for it whenever it creates a
    gradebook (seconds, every scratch gradebook); the migration scripts'
    head is the same answer.
    """
    config = Config()
    config.set_main_option(
        "script_location", str(Path(nbgrader.__file__).parent / "alembic")
    )
    return ScriptDirectory.from_config(config).get_current_head()


def _use_inprocess_alembic_head() -> None:
    """Every gradebook this process creates asks :func:`_alembic_head`."""
    nbgrader.api.get_alembic_version = _alembic_head


def _run_converter(converter_cls, config, **attrs) -> dict:
    """Run one nbgrader converter, capturing its log (nbgrader's API style)."""
    _use_inprocess_alembic_head()

    coursedir = CourseDirectory(config=config)
    for key, value in attrs.pop("coursedir", {}).items():
        setattr(coursedir, key, value)
    app = converter_cls(coursedir=coursedir, config=config)
    for key, value in attrs.items():
        setattr(app, key, value)
    return capture_log(app)


# ---------------------------------------------------------------- release


def generate_release(
    root: Path, assignments: Iterable[str], release_dir: Path, db_url: str | None = None
) -> None:
    """Run nbgrader's GenerateAssignment for each assignment into ``release_dir``.

    The gradebook (``db_url``, default the course's) learns the assignment's
    cells; nbgrader needs that to autograde it later.
    """
    for assignment in assignments:
        config = course_config(root, release=release_dir)
        if db_url:
            config.CourseDirectory.db_url = db_url
        result = _run_converter(
            SafeGenerateAssignment,
            config,
            coursedir={"assignment_id": assignment},
            force=True,
            create_assignment=True,
        )
        if not result["success"]:
            raise CommandError(
                f"nbgrader could not generate {assignment}:\n"
                f"{result.get('log', '')}{result.get('error', '')}"
            )
        problems = release_problems(release_dir, assignment)
        if problems:
            raise CommandError(
                f"the release of {assignment} is not clean:\n  " + "\n  ".join(problems)
            )


def lint(root: Path, assignments: Iterable[str]) -> None:
    problems = [
        f"{assignment}: {problem}"
        for assignment in assignments
        for problem in lint_assignment(root, assignment)
    ]
    if problems:
        raise CommandError(
            "the assignment is inconsistent:\n  " + "\n  ".join(problems)
        )


def stale_release(root: Path, assignments: list[str], every: bool) -> list[str]:
    """How ``notebooks/`` differs from a fresh release of ``assignments``
    (empty: up to date). Writes nothing there, nor in the course gradebook.
    ``every``: all assignments were asked for, so a released folder with no
    source is stale too."""
    committed = root / "notebooks"
    stale = []
    with tempfile.TemporaryDirectory(prefix="autograder-release-") as tmp:
        fresh = Path(tmp)
        # A scratch gradebook: checking must not touch the course's.
        scratch_db = f"sqlite:///{fresh / 'gradebook.db'}"
        fresh = fresh / "notebooks"
        generate_release(root, assignments, fresh, db_url=scratch_db)
        for assignment in assignments:
            if not (committed / assignment).is_dir():
                stale.append(f"{assignment}/: missing from notebooks/")
                continue
            stale += [
                f"{assignment}/{d}"
                for d in tree_differences(fresh / assignment, committed / assignment)
            ]
    if every:
        for extra in sorted(committed.glob("*/*.ipynb")):
            if extra.parent.name not in assignments:
                stale.append(
                    f"{extra.relative_to(committed)}: no such assignment in solutions/"
                )
    return stale


def _declared(assignment: str) -> bool:
    try:
        load_assignment(assignment)
    except LookupError:
        return False
    return True


def write_references(assignments: Iterable[str]) -> tuple[list[Path], list[str]]:
    """The hidden references of each assignment: ``(files written, assignments
    that declare no checks)``."""
    written, undeclared = [], []
    for assignment in assignments:
        if _declared(assignment):
            written.append(compute_references(assignment))
        else:
            undeclared.append(assignment)
    return written, undeclared


# --------------------------------------------------------------- validate


def validate_notebook(path: Path, timeout: int | None = None) -> list[str]:
    """Execute a source notebook with nbgrader's Validator; the failing cells."""
    validator = Validator(config=course_config(timeout=timeout))
    results = validator.validate(str(path))
    failures = []
    for kind in ("type_changed", "changed", "failed"):
        for cell in results.get(kind, []):
            detail = cell.get("raw_error") or cell.get("source", "")
            failures.append(f"{kind}: {detail.strip()[:2000]}")
    return failures


# -------------------------------------------------------------- autograde


def structure_problems(source_nb: Path, submitted_nb: Path) -> list[str]:
    """Deleted, duplicated or retyped grade cells of a submission."""
    if not submitted_nb.is_file():
        others = sorted(p.name for p in submitted_nb.parent.glob("*.ipynb"))
        found = f" (found {', '.join(others)})" if others else ""
        return [f"{submitted_nb.name} not submitted{found}"]
    try:
        submitted = nbformat.read(submitted_nb, as_version=4)
    except Exception as err:
        return [f"{submitted_nb.name} cannot be read as a notebook ({err})"]
    source = nbformat.read(source_nb, as_version=4)
    seen: dict[str, list] = {}
    for cell in submitted.cells:
        if grade_id(cell):
            seen.setdefault(grade_id(cell), []).append(cell)
    problems = []
    for cell in source.cells:
        if not nbgrader_meta(cell).get("grade") or not grade_id(cell):
            continue
        name = grade_id(cell)
        found = seen.get(name, [])
        if not found:
            problems.append(f"grade cell {name!r} deleted")
        elif len(found) > 1:
            problems.append(f"grade cell {name!r} duplicated ({len(found)} copies)")
        elif found[0].cell_type != cell.cell_type:
            problems.append(
                f"grade cell {name!r} changed from {cell.cell_type} to "
                f"{found[0].cell_type}"
            )
    return problems


def _failure_reason(result: dict) -> str:
    text = f"{result.get('log', '')}\n{result.get('error', '')}"
    if "DeadKernelError" in text or "Kernel died" in text:
        return "the kernel died while executing the notebook"
    if "UnresponsiveKernelError" in text or "unresponsive" in text:
        return "the kernel became unresponsive (could not interrupt a cell)"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # the exception that stopped it (nbgrader's own wrapper names none)
    raised = [
        line
        for line in lines
        if re.match(r"[\w.]*(Error|Exception): ", line)
        and "NbGraderException" not in line
    ]
    errors = [line for line in lines if "Error" in line or "ERROR" in line]
    return (raised or errors or lines or ["nbgrader failed"])[-1][:300]


def _manual_file() -> Path:
    return paths.state_dir() / MANUAL_FILE


def load_manual() -> dict[str, dict[str, str]]:
    path = _manual_file()
    return json.loads(path.read_text()) if path.is_file() else {}


def save_manual(data: dict[str, dict[str, str]]) -> None:
    path = _manual_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


@contextlib.contextmanager
def kernel_settings(**variables: str | None) -> Iterator[None]:
    """Set environment variables the kernels nbgrader starts inherit (None:
    unset) for the block; restored on every exit path."""
    saved = {name: os.environ.get(name) for name in variables}
    try:
        for name, value in variables.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def autograde_submission(root, config, submissions, assignment, student) -> list[str]:
    """nbgrader's autograde of one submission; the problems found (reasons
    for manual grading). The grading run (:mod:`autograder.grading`) calls
    it for each unit, inside :func:`kernel_settings` of the run.

    Whatever the submission holds (metadata of any type, a kernel that
    leaves links behind), it is this submission's problem, listed for
    manual grading, never an exception that stops the run."""
    folder = submissions / student / assignment
    graded = Path(config.CourseDirectory.autograded_directory) / student / assignment
    problems = []
    if links := _planted(folder):
        problems.append(f"the submission holds {links}: not copied or read")
    try:
        for source_nb in sorted((root / "solutions" / assignment).glob("*.ipynb")):
            problems += structure_problems(source_nb, folder / source_nb.name)
        with kernel_settings(**{ASSIGNMENT_ENV: assignment}):
            outcome = _run_converter(
                SafeAutograde,
                config,
                coursedir={"assignment_id": assignment, "student_id": student},
                force=True,
                create_student=True,
            )
    except Exception as err:  # nbgrader choked on this submission only
        problems.append(f"nbgrader could not grade it ({type(err).__name__}: {err})")
        return [p[:300] for p in problems]
    if not outcome["success"]:
        problems.append(_failure_reason(outcome))
    if links := _planted(graded):
        problems.append(
            f"its kernel left {links} in its autograded folder (never read, "
            "copied or written through)"
        )
    return [p[:300] for p in problems]


def _planted(folder: Path) -> str:
    """``links or special files a, b`` in ``folder`` ("" if none)."""
    found = [str(p.relative_to(folder)) for p in planted(folder)]
    return "links or special files " + ", ".join(found) if found else ""


# --------------------------------------------------------------- feedback


def hidden_leaks(html_file: Path) -> list[str]:
    """The hidden-test markers a feedback page shows (none, it should be)."""
    text = html_file.read_text(errors="replace")
    return [m for m in RELEASE_LEAKS if m in text]


def generate_feedback(
    root: Path, assignments: Sequence[str] | None, db_url: str | None = None
) -> tuple[list[Path], list[str]]:
    """nbgrader's HTML feedback for every autograded submission (of
    ``assignments``, default all): ``(pages written, failures)``. A page that
    shows a hidden test is a failure. ``db_url``: the gradebook (default the
    course's)."""
    config = course_config(root, db_url=db_url)
    autograded = Path(config.CourseDirectory.autograded_directory)
    feedback = Path(config.CourseDirectory.feedback_directory)
    wanted = set(assignments or [])
    pairs = sorted(
        (a.name, s.name)
        for s in (autograded.iterdir() if autograded.is_dir() else [])
        if s.is_dir()
        for a in s.iterdir()
        if a.is_dir() and (not wanted or a.name in wanted)
    )
    if not pairs:
        raise CommandError(
            f"nothing autograded under {autograded}: run autograde first"
        )
    written, failed = [], []
    for assignment, student in pairs:
        result = _run_converter(
            SafeGenerateFeedback,
            config,
            coursedir={"assignment_id": assignment, "student_id": student},
            force=True,
        )
        if not result["success"]:
            failed.append(f"{student}/{assignment}: {_failure_reason(result)}")
            continue
        for html in sorted((feedback / student / assignment).glob("*.html")):
            leaks = hidden_leaks(html)
            if leaks:
                failed.append(f"{html}: hidden tests leaked ({', '.join(leaks)})")
            else:
                written.append(html)
    return written, failed
