"""The instructor commands: ``python -m autograder <command>``.

Each wraps nbgrader's own converters (``GenerateAssignment``,
``Autograde``, ``GenerateFeedback``), its ``Validator`` and its
``Gradebook``; see ``autograder/README.md``. Exit status: 0 on success,
1 on a real failure (a broken notebook, a stale release, nbgrader errors),
3 after ``autograde`` when some submissions need manual grading (listed).
"""

from __future__ import annotations

import argparse
import csv
import filecmp
import json
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import nbformat

from . import paths

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_MANUAL = 3

HIDDEN_MARKERS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "hidden=True")
SOLUTION_MARKERS = ("BEGIN SOLUTION", "END SOLUTION")
MANUAL_FILE = "needs_manual_grading.json"


class CommandError(Exception):
    """A failure the command reports and exits non-zero for."""


def _say(*parts) -> None:
    print(*parts, flush=True)


# ------------------------------------------------------------ environment


def _prepare_environment(root: Path) -> None:
    """Settings inherited by every kernel nbgrader starts."""
    from .nbgrader_config import kernel_environment

    os.environ["AUTOGRADER_COURSE_ROOT"] = str(root)
    paths.state_dir().mkdir(parents=True, exist_ok=True)
    kernel_environment()
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


def _select(root: Path, wanted: Sequence[str] | None) -> list[str]:
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
    import nbgrader
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option(
        "script_location", str(Path(nbgrader.__file__).parent / "alembic")
    )
    return ScriptDirectory.from_config(config).get_current_head()


def _run_converter(converter_cls, config, **attrs) -> dict:
    """Run one nbgrader converter, capturing its log (nbgrader's API style)."""
    import nbgrader.api
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import capture_log

    nbgrader.api.get_alembic_version = _alembic_head

    coursedir = CourseDirectory(config=config)
    for key, value in attrs.pop("coursedir", {}).items():
        setattr(coursedir, key, value)
    app = converter_cls(coursedir=coursedir, config=config)
    for key, value in attrs.items():
        setattr(app, key, value)
    return capture_log(app)


# ---------------------------------------------------------------- release


def _release_problems(release_dir: Path, assignment: str) -> list[str]:
    """What is wrong with a generated release folder (empty list: nothing)."""
    problems = []
    folder = release_dir / assignment
    for path in sorted(folder.rglob("*")):
        if path.is_dir():
            continue
        rel = path.relative_to(release_dir)
        if path.suffix != ".ipynb":
            lowered = path.name.lower()
            if "hidden" in lowered or "reference" in lowered or "secret" in lowered:
                problems.append(f"{rel}: a hidden file was copied to the release")
            continue
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            for marker in HIDDEN_MARKERS + SOLUTION_MARKERS:
                if marker in cell.source:
                    problems.append(f"{rel} cell {i}: contains {marker!r}")
            if cell.cell_type == "code" and (cell.outputs or cell.execution_count):
                problems.append(f"{rel} cell {i}: has outputs")
    return problems


def _tree_differences(expected: Path, actual: Path) -> list[str]:
    """Files that differ between two folders (relative paths)."""
    differences = []

    def walk(cmp: filecmp.dircmp, prefix: str) -> None:
        for name in cmp.left_only:
            differences.append(f"{prefix}{name}: missing from the committed release")
        for name in cmp.right_only:
            differences.append(f"{prefix}{name}: not produced by the release command")
        for name in cmp.diff_files + cmp.funny_files:
            differences.append(f"{prefix}{name}: differs")
        for name, sub in cmp.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(filecmp.dircmp(expected, actual, ignore=[]), "")
    # dircmp compares shallowly (size and mtime first); confirm byte by byte.
    return [d for d in differences if not _same_bytes(d, expected, actual)]


def _same_bytes(difference: str, left: Path, right: Path) -> bool:
    name = difference.split(":")[0]
    if not difference.endswith(": differs"):
        return False
    return filecmp.cmp(left / name, right / name, shallow=False)


def generate_release(
    root: Path, assignments: Iterable[str], release_dir: Path, db_url: str | None = None
) -> None:
    """Run nbgrader's GenerateAssignment for each assignment into ``release_dir``.

    The gradebook (``db_url``, default the course's) learns the assignment's
    cells; nbgrader needs that to autograde it later.
    """
    from nbgrader.converters import GenerateAssignment

    from .nbgrader_config import course_config

    for assignment in assignments:
        config = course_config(root, release=release_dir)
        if db_url:
            config.CourseDirectory.db_url = db_url
        result = _run_converter(
            GenerateAssignment,
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
        problems = _release_problems(release_dir, assignment)
        if problems:
            raise CommandError(
                f"the release of {assignment} is not clean:\n  " + "\n  ".join(problems)
            )


def _lint(root: Path, assignments: Iterable[str]) -> None:
    from .lint import lint_assignment

    problems = [
        f"{assignment}: {problem}"
        for assignment in assignments
        for problem in lint_assignment(root, assignment)
    ]
    if problems:
        raise CommandError(
            "the assignment is inconsistent:\n  " + "\n  ".join(problems)
        )


def cmd_release(root: Path, args) -> int:
    assignments = _select(root, args.assignments)
    _lint(root, assignments)
    committed = root / "notebooks"
    if args.check:
        with tempfile.TemporaryDirectory(prefix="autograder-release-") as tmp:
            fresh = Path(tmp)
            # A scratch gradebook: checking must not touch the course's.
            scratch_db = f"sqlite:///{fresh / 'gradebook.db'}"
            fresh = fresh / "notebooks"
            generate_release(root, assignments, fresh, db_url=scratch_db)
            stale = []
            for assignment in assignments:
                if not (committed / assignment).is_dir():
                    stale.append(f"{assignment}/: missing from notebooks/")
                    continue
                stale += [
                    f"{assignment}/{d}"
                    for d in _tree_differences(
                        fresh / assignment, committed / assignment
                    )
                ]
            if not args.assignments:
                for extra in sorted(committed.glob("*/*.ipynb")):
                    if extra.parent.name not in assignments:
                        stale.append(
                            f"{extra.relative_to(committed)}: no such assignment in "
                            "solutions/"
                        )
        if stale:
            _say("notebooks/ is stale; run `python -m autograder release`:")
            for line in stale:
                _say(f"  {line}")
            return EXIT_FAILURE
        _say(f"notebooks/ is up to date ({len(assignments)} assignment(s))")
        return EXIT_OK
    generate_release(root, assignments, committed)
    for assignment in assignments:
        _say(f"released {assignment} -> {(committed / assignment).relative_to(root)}/")
    return EXIT_OK


# ------------------------------------------------------------- references


def _declared(assignment: str) -> bool:
    from .checks import load_assignment

    try:
        load_assignment(assignment)
    except LookupError:
        return False
    return True


def write_references(assignments: Iterable[str]) -> list[Path]:
    from .checks import compute_references

    written = []
    for assignment in assignments:
        if not _declared(assignment):
            _say(f"warning: {assignment} declares no checks (autograder/assignments/)")
            continue
        written.append(compute_references(assignment))
    return written


def cmd_references(root: Path, args) -> int:
    assignments = _select(root, args.assignments)
    for path in write_references(assignments):
        _say(f"wrote {path}")
    return EXIT_OK


# --------------------------------------------------------------- validate


def validate_notebook(path: Path, timeout: int | None = None) -> list[str]:
    """Execute a source notebook with nbgrader's Validator; the failing cells."""
    from nbgrader.validator import Validator

    from .nbgrader_config import course_config

    validator = Validator(config=course_config(timeout=timeout))
    results = validator.validate(str(path))
    failures = []
    for kind in ("type_changed", "changed", "failed"):
        for cell in results.get(kind, []):
            detail = cell.get("raw_error") or cell.get("source", "")
            failures.append(f"{kind}: {detail.strip()[:2000]}")
    return failures


def cmd_validate(root: Path, args) -> int:
    notebooks = [Path(p).resolve() for p in args.notebooks] or sorted(
        (root / "solutions").glob("*/*.ipynb")
    )
    if not notebooks:
        raise CommandError("no notebooks to validate")
    bad = 0
    for path in notebooks:
        start = time.perf_counter()
        failures = validate_notebook(path, args.timeout)
        took = time.perf_counter() - start
        if failures:
            bad += 1
            _say(f"FAILED {path} ({took:.1f} s)")
            for failure in failures:
                _say("  " + failure.replace("\n", "\n  "))
        else:
            _say(f"ok     {path} ({took:.1f} s)")
    return EXIT_FAILURE if bad else EXIT_OK


# -------------------------------------------------------------- autograde


def _grade_cells(nb) -> list:
    return [
        cell
        for cell in nb.cells
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade", False)
    ]


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
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if "grade_id" in meta:
            seen.setdefault(meta["grade_id"], []).append(cell)
    problems = []
    for cell in _grade_cells(source):
        grade_id = cell.metadata.nbgrader.grade_id
        found = seen.get(grade_id, [])
        if not found:
            problems.append(f"grade cell {grade_id!r} deleted")
        elif len(found) > 1:
            problems.append(f"grade cell {grade_id!r} duplicated ({len(found)} copies)")
        elif found[0].cell_type != cell.cell_type:
            problems.append(
                f"grade cell {grade_id!r} changed from {cell.cell_type} to "
                f"{found[0].cell_type}"
            )
    return problems


def _failure_reason(result: dict) -> str:
    text = f"{result.get('log', '')}\n{result.get('error', '')}"
    if "DeadKernelError" in text or "Kernel died" in text:
        return "the kernel died while executing the notebook"
    if "UnresponsiveKernelError" in text or "unresponsive" in text:
        return "the kernel became unresponsive (could not interrupt a cell)"
    lines = [line for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line or "ERROR" in line]
    return (errors or lines or ["nbgrader failed"])[-1].strip()[:300]


def _manual_file() -> Path:
    return paths.state_dir() / MANUAL_FILE


def _load_manual() -> dict[str, dict[str, str]]:
    path = _manual_file()
    return json.loads(path.read_text()) if path.is_file() else {}


def _save_manual(data: dict[str, dict[str, str]]) -> None:
    path = _manual_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def _flag_for_manual_grading(db_url: str, assignment: str, student: str) -> None:
    """Mark the submission in the gradebook so formgrader lists it."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gb:
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            return
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.needs_manual_grade = True
        gb.db.commit()


def _submission_scores(db_url: str, assignment: str, student: str):
    from nbgrader.api import Gradebook, MissingEntry

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


def autograde(
    root: Path, submissions: Path, assignments: Sequence[str] | None, timeout=None
) -> tuple[dict, dict]:
    """Autograde every ``<student>/<assignment>`` under ``submissions``.

    Returns ``(scores, manual)``: ``scores[assignment][student] = (score,
    max_score, {grade_id: (score, max)})`` and ``manual[assignment][student]
    = reason`` for submissions that need manual grading.
    """
    from nbgrader.converters import Autograde

    from .checks import DEFERRED_ENV
    from .nbgrader_config import course_config
    from .trusted import Limits, Session, TrustedRecheckError, recheck_assignment
    from .trusted.kernel_launcher import DENY_ENV, holds_needed

    if not submissions.is_dir():
        raise CommandError(f"no submissions folder {submissions}")
    students_by_assignment: dict[str, list[str]] = {}
    for student_dir in sorted(p for p in submissions.iterdir() if p.is_dir()):
        for assignment_dir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            students_by_assignment.setdefault(assignment_dir.name, []).append(
                student_dir.name
            )
    known = course_assignments(root)
    wanted = list(assignments) if assignments else sorted(students_by_assignment)
    unknown = [a for a in wanted if a not in known]
    if unknown:
        raise CommandError(f"submissions for unknown assignment(s): {unknown}")
    if not any(students_by_assignment.get(a) for a in wanted):
        raise CommandError(f"no submissions found under {submissions}")

    config = course_config(root, submitted=submissions, timeout=timeout)
    # nbgrader's kernels (confined by the course configuration: see
    # autograder/trusted/kernel.py) may not read the submissions either, and
    # leave every hidden test to the trusted re-check below.
    if holds_needed(submissions):
        _say(f"warning: kernels may read {submissions}: it holds what they need")
    else:
        os.environ[DENY_ENV] = str(submissions)
    os.environ[DEFERRED_ENV] = "1"
    db_url = config.CourseDirectory.db_url
    manual = _load_manual()
    scores: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="autograder-sync-") as tmp:
        # The gradebook must know the assignment's cells: generate it (into a
        # scratch folder, leaving notebooks/ alone) with the database on.
        generate_release(root, wanted, Path(tmp))
    # (No reference file is needed: the kernels defer hidden tests and the
    # trusted re-check computes the expected outputs itself.)
    for assignment in wanted:
        manual.setdefault(assignment, {})
        scores[assignment] = {}
        sources = sorted((root / "solutions" / assignment).glob("*.ipynb"))
        students = students_by_assignment.get(assignment, [])
        # The trusted re-check (autograder/trusted/) reads everything its
        # verdict depends on now, before nbgrader runs any student code.
        try:
            trusted = Session(
                root, assignment, limits=Limits(step_seconds=timeout or 30)
            )
        except TrustedRecheckError as err:
            raise CommandError(f"trusted re-check of {assignment}: {err}") from None
        trusted.snapshot(submissions, students)
        # Hidden tests nobody could score (the kernel defers them): by hand.
        unscored = trusted.unscored_hidden()
        for student in students:
            manual[assignment].pop(student, None)
            problems = []
            for source_nb in sources:
                problems += structure_problems(
                    source_nb, submissions / student / assignment / source_nb.name
                )
            os.environ["AUTOGRADER_ASSIGNMENT"] = assignment
            result = _run_converter(
                Autograde,
                config,
                coursedir={"assignment_id": assignment, "student_id": student},
                force=True,
                create_student=True,
            )
            if not result["success"]:
                problems.append(_failure_reason(result))
            if unscored:
                problems.append(
                    "hidden tests the trusted re-check cannot score: "
                    + ", ".join(unscored)
                )
            if problems:
                manual[assignment][student] = "; ".join(problems)
                _flag_for_manual_grading(db_url, assignment, student)
            scores[assignment][student] = _submission_scores(
                db_url, assignment, student
            )
        # The trusted verdict decides: it scores the hidden tests and
        # overrides nbgrader where the two disagree.
        try:
            report = recheck_assignment(
                root,
                assignment,
                students,
                submissions=submissions,
                db_url=db_url,
                session=trusted,
                out=None,
            )
        except TrustedRecheckError as err:
            # nbgrader's scores stand, with the hidden tests unchecked.
            for student in students:
                manual[assignment][student] = f"trusted re-check failed: {err}"[:300]
                _flag_for_manual_grading(db_url, assignment, student)
            _save_manual(manual)
            raise CommandError(f"trusted re-check of {assignment}: {err}") from None
        finally:
            trusted.close()
        report.print(_say)
        for student, why in report.failed.items():
            reason = f"trusted re-check failed, hidden tests not scored ({why})"
            previous = manual[assignment].get(student)
            manual[assignment][student] = (
                f"{previous}; {reason}" if previous else reason
            )[:500]
            _flag_for_manual_grading(db_url, assignment, student)
        for student in report.results:
            scores[assignment][student] = _submission_scores(
                db_url, assignment, student
            )
        if not manual[assignment]:
            del manual[assignment]
    for variable in ("AUTOGRADER_ASSIGNMENT", DENY_ENV, DEFERRED_ENV):
        os.environ.pop(variable, None)
    _save_manual(manual)
    return scores, manual


def cmd_autograde(root: Path, args) -> int:
    submissions = Path(args.submissions).resolve()
    scores, manual = autograde(root, submissions, args.assignments, args.timeout)
    needs_manual = 0
    for assignment, by_student in scores.items():
        _say(f"{assignment}: {len(by_student)} submission(s)")
        for student, result in by_student.items():
            reason = manual.get(assignment, {}).get(student)
            needs_manual += reason is not None
            score = "-" if result is None else f"{result[0]:g} / {result[1]:g}"
            status = f"NEEDS MANUAL GRADING: {reason}" if reason else "graded"
            _say(f"  {student:<24} {score:>13}  {status}")
    if needs_manual:
        _say(f"{needs_manual} submission(s) need manual grading (listed above).")
        return EXIT_MANUAL
    return EXIT_OK


# ----------------------------------------------------------------- export


def cmd_export(root: Path, args) -> int:
    from nbgrader.api import Gradebook

    from .export import COLUMNS, grade_rows
    from .nbgrader_config import course_config

    config = course_config(root)
    output = Path(args.output) if args.output else paths.state_dir() / "grades.csv"
    with Gradebook(config.CourseDirectory.db_url) as gb:
        rows = grade_rows(gb, _load_manual(), full_matrix=args.full_matrix)
    if not rows:
        raise CommandError("the gradebook holds no grades yet: run autograde first")
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        writer.writerows(row.as_csv() for row in rows)
    _say(f"wrote {len(rows)} row(s) to {output}")
    return EXIT_OK


# --------------------------------------------------------------- feedback


def hidden_leaks(html_file: Path) -> list[str]:
    text = html_file.read_text(errors="replace")
    return [m for m in HIDDEN_MARKERS if m in text]


def cmd_feedback(root: Path, args) -> int:
    from nbgrader.converters import GenerateFeedback

    from .nbgrader_config import course_config

    config = course_config(root)
    autograded = Path(config.CourseDirectory.autograded_directory)
    feedback = Path(config.CourseDirectory.feedback_directory)
    wanted = set(args.assignments or [])
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
    failed = []
    for assignment, student in pairs:
        result = _run_converter(
            GenerateFeedback,
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
                _say(f"wrote {html}")
    for line in failed:
        _say(f"FAILED {line}")
    return EXIT_FAILURE if failed else EXIT_OK


# ------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m autograder",
        description="The course pipeline on nbgrader (see autograder/README.md).",
    )
    parser.add_argument(
        "--root",
        default=None,
        help="course root holding solutions/ and notebooks/ (default: this checkout)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", help="generate notebooks/ from solutions/")
    p.add_argument("assignments", nargs="*", help="default: all")
    p.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if notebooks/ is stale; write nothing",
    )

    p = sub.add_parser("references", help="precompute the hidden reference outputs")
    p.add_argument("assignments", nargs="*", help="default: all")

    p = sub.add_parser(
        "validate", help="execute solution notebooks with nbgrader's Validator"
    )
    p.add_argument("notebooks", nargs="*", help="default: solutions/*/*.ipynb")
    p.add_argument("--timeout", type=int, default=None, help="seconds per cell")

    p = sub.add_parser("autograde", help="autograde a folder of submissions")
    p.add_argument("submissions", help="folder laid out <student>/<assignment>/*.ipynb")
    p.add_argument(
        "--assignment", dest="assignments", action="append", help="only this one"
    )
    p.add_argument("--timeout", type=int, default=None, help="seconds per cell")

    p = sub.add_parser("export", help="export grades as CSV")
    p.add_argument("format", nargs="?", default="csv", choices=["csv"])
    p.add_argument(
        "--output", "-o", default=None, help="default: <state dir>/grades.csv"
    )
    p.add_argument(
        "--full-matrix",
        action="store_true",
        help="a row for every assignment and student, 'no submission' where none "
        "(default: one row per graded submission)",
    )

    p = sub.add_parser("feedback", help="generate HTML feedback for autograded work")
    p.add_argument(
        "--assignment", dest="assignments", action="append", help="only this one"
    )
    return parser


COMMANDS = {
    "release": cmd_release,
    "references": cmd_references,
    "validate": cmd_validate,
    "autograde": cmd_autograde,
    "export": cmd_export,
    "feedback": cmd_feedback,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # nbgrader 0.9 with SQLAlchemy 2 warns about its own session handling
    # while creating submissions; harmless, and it buries the report.
    warnings.filterwarnings("ignore", message=r"Object of type <Submitted")
    if args.root:
        os.environ["AUTOGRADER_COURSE_ROOT"] = str(Path(args.root).resolve())
    root = paths.course_root()
    _prepare_environment(root)
    try:
        return COMMANDS[args.command](root, args)
    except CommandError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILURE
