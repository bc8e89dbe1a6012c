"""The instructor commands: ``python -m autograder <command>``.

This module parses the arguments and prints; the steps are in
:mod:`autograder.pipeline` (see ``autograder/README.md``). Exit status: 0 on
success, 1 on a real failure (a broken notebook, a stale release, nbgrader
errors), 3 after ``autograde`` when some submissions need manual grading
(listed).

The Dask coordinator and the class report (matplotlib) are imported by the
commands that use them: the others start a second sooner without them.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

from nbgrader.api import Gradebook

from . import paths
from .export import COLUMNS, grade_rows
from .nbgrader_config import course_config
from .pipeline import (
    CommandError,
    generate_feedback,
    generate_release,
    lint,
    prepare_environment,
    select_assignments,
    stale_release,
    validate_notebook,
    write_references,
)
from .pipeline import load_manual as _load_manual

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_MANUAL = 3


def _say(*parts) -> None:
    print(*parts, flush=True)


def cmd_release(root: Path, args) -> int:
    assignments = select_assignments(root, args.assignments)
    lint(root, assignments)
    committed = root / "notebooks"
    if args.check:
        stale = stale_release(root, assignments, every=not args.assignments)
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


def cmd_references(root: Path, args) -> int:
    assignments = select_assignments(root, args.assignments)
    written, undeclared = write_references(assignments)
    for assignment in undeclared:
        _say(f"warning: {assignment} declares no checks (autograder/assignments/)")
    for path in written:
        _say(f"wrote {path}")
    return EXIT_OK


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


def cmd_autograde(root: Path, args) -> int:
    from .grading.coordinator import autograde

    submissions = Path(args.submissions).resolve()
    result = autograde(
        root,
        submissions,
        args.assignments,
        args.timeout,
        say=_say,
        workers=args.workers,
        scheduler=args.scheduler,
        db_url=args.db,
        verbose=args.verbose,
    )
    needs_manual = 0
    for assignment, by_student in result.scores.items():
        _say(f"{assignment}: {len(by_student)} submission(s)")
        for student, scores in sorted(by_student.items()):
            reason = result.manual.get(assignment, {}).get(student)
            needs_manual += reason is not None
            score = "-" if scores is None else f"{scores[0]:g} / {scores[1]:g}"
            status = f"NEEDS MANUAL GRADING: {reason}" if reason else "graded"
            if (assignment, student) in result.unchanged:
                status += " (unchanged since graded)"
            _say(f"  {student:<24} {score:>13}  {status}")
    for line in result.timing_lines():
        _say(line)
    if needs_manual:
        _say(f"{needs_manual} submission(s) need manual grading (listed above).")
        return EXIT_MANUAL
    return EXIT_OK


# ----------------------------------------------------------------- export


def cmd_export(root: Path, args) -> int:
    config = course_config(root, db_url=args.db)
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


def cmd_feedback(root: Path, args) -> int:
    written, failed = generate_feedback(root, args.assignments, args.db)
    for html in written:
        _say(f"wrote {html}")
    for line in failed:
        _say(f"FAILED {line}")
    return EXIT_FAILURE if failed else EXIT_OK


def cmd_report(root: Path, args) -> int:
    from . import report

    config = course_config(root, db_url=args.db)
    folder = Path(args.output_dir) if args.output_dir else paths.state_dir() / "reports"
    wrote = 0
    for assignment in select_assignments(root, args.assignments):
        summary = report.build_report(
            root, assignment, config.CourseDirectory.db_url, paths.state_dir()
        )
        if not summary.students:
            _say(f"{assignment}: no graded submission, no report")
            continue
        for path in (
            report.write_html(summary, folder / f"{assignment}.html"),
            report.write_csv(summary, folder / f"{assignment}.csv"),
        ):
            _say(f"wrote {path}")
        wrote += 1
    if not wrote:
        raise CommandError("the gradebook holds no graded submission: run autograde")
    return EXIT_OK


# ------------------------------------------------------------------- main


def _add_autograde(sub, db: argparse.ArgumentParser) -> None:
    """The ``autograde`` command's arguments."""
    p = sub.add_parser(
        "autograde",
        parents=[db],
        help="autograde a folder of submissions (new or changed ones), on a "
        "Dask cluster",
    )
    p.add_argument("submissions", help="folder laid out <student>/<assignment>/*.ipynb")
    p.add_argument(
        "--assignment", dest="assignments", action="append", help="only this one"
    )
    p.add_argument("--timeout", type=int, default=None, help="seconds per cell")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes of the local Dask cluster (default: one per "
        "core; 1 grades one submission at a time)",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        help="address of an existing Dask scheduler, e.g. tcp://HOST:8786 "
        "(instead of a local cluster)",
    )
    p.add_argument(
        "--verbose", "-v", action="store_true", help="a line per finished submission"
    )


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
    # The gradebook option of every command that reads or writes it.
    db = argparse.ArgumentParser(add_help=False)
    db.add_argument(
        "--db",
        default=None,
        help="the gradebook's SQLAlchemy URL, e.g. postgresql://USER@HOST/NAME "
        "(default: sqlite:///<state dir>/gradebook.db)",
    )

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

    _add_autograde(sub, db)

    p = sub.add_parser("export", parents=[db], help="export grades as CSV")
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

    p = sub.add_parser(
        "feedback", parents=[db], help="generate HTML feedback for autograded work"
    )
    p.add_argument(
        "--assignment", dest="assignments", action="append", help="only this one"
    )

    p = sub.add_parser(
        "report",
        parents=[db],
        help="class report: per part the scores, pass rate and common misconceptions",
    )
    p.add_argument("assignments", nargs="*", help="default: all")
    p.add_argument(
        "--output-dir", "-o", default=None, help="default: <state dir>/reports"
    )
    return parser


COMMANDS = {
    "release": cmd_release,
    "references": cmd_references,
    "validate": cmd_validate,
    "autograde": cmd_autograde,
    "export": cmd_export,
    "feedback": cmd_feedback,
    "report": cmd_report,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # nbgrader 0.9 with SQLAlchemy 2 warns about its own session handling
    # while creating submissions; harmless, and it buries the report.
    warnings.filterwarnings("ignore", message=r"Object of type <Submitted")
    if args.root:
        os.environ["AUTOGRADER_COURSE_ROOT"] = str(Path(args.root).resolve())
    root = paths.course_root()
    try:
        prepare_environment(root)
        return COMMANDS[args.command](root, args)
    except CommandError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILURE
