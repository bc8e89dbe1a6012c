"""What a person must look at although the grades stand: the static scan's
flags (:mod:`autograder.trusted.scan`) and copy detection's resemblances
(:mod:`autograder.copies`).

Neither changes a score. Each flagged submission gets a reason on the
instructor's manual-grading list (``needs_manual_grading.json``, hence the
``reason`` column of the CSV export) and nbgrader's ``needs_manual_grade``
(formgrader lists it). The reason is never written into a gradebook
comment: comments reach the student's feedback, and a copy reason names
the partner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, MutableMapping
from pathlib import Path

from . import copies, gradebook, paths
from .trusted.results import RecheckReport, load_state

__all__ = [
    "SCAN_FLAGS_SHOWN",
    "scan_reasons",
    "review_reasons",
    "flag_for_review",
    "review_assignment",
]

# The scan's flags quoted in one reason (the autograde output lists them all).
SCAN_FLAGS_SHOWN = 3


def _scan_reason(flags: list[str]) -> str:
    shown = "; ".join(flags[:SCAN_FLAGS_SHOWN])
    more = len(flags) - SCAN_FLAGS_SHOWN
    if more > 0:
        shown += f" (and {more} more in the autograde output)"
    return f"suspicious code (static scan; not re-scored): {shown}"


def scan_reasons(
    report: RecheckReport,
    recorded: Mapping[str, Mapping] | None = None,
) -> dict[str, str]:
    """``{student: reason}`` for the submissions the scan flagged.

    The students re-checked in ``report``, and those it skipped (already
    re-checked, same fingerprint) from their ``recorded`` progress entries
    (:func:`autograder.trusted.results.load_state`'s ``students``).
    """
    recorded = recorded or {}
    found = {
        student: [str(flag) for flag in result.flags]
        for student, result in report.results.items()
    }
    for student in report.skipped:
        flags = recorded.get(student, {}).get("flags", [])
        found[student] = [str(f) for f in flags] if isinstance(flags, list) else []
    return {student: _scan_reason(f) for student, f in sorted(found.items()) if f}


def review_reasons(
    report: RecheckReport,
    copy_report: copies.CopyReport,
    recorded: Mapping[str, Mapping] | None = None,
) -> dict[str, list[str]]:
    """``{student: [reason, ...]}``: the scan's, then copy detection's."""
    reasons: dict[str, list[str]] = {}
    for source in (scan_reasons(report, recorded), copies.manual_reasons(copy_report)):
        for student, reason in source.items():
            reasons.setdefault(student, []).append(reason)
    return dict(sorted(reasons.items()))


def flag_for_review(
    db_url: str,
    assignment: str,
    manual: MutableMapping[str, str],
    reasons: Mapping[str, list[str]],
    say: Callable[[str], None] = print,
) -> None:
    """Add ``reasons`` to the assignment's manual-grading list ``manual``
    (``{student: reason}``, kept) and flag each submission in the gradebook."""
    for student, more in reasons.items():
        previous = manual.get(student)
        # a submission graded before keeps its reasons: none added twice
        new = [r for r in more if not previous or r not in previous]
        manual[student] = "; ".join(([previous] if previous else []) + new)
        gradebook.flag_for_manual_grading(db_url, assignment, student)
    if reasons:
        say(
            f"flagged for review in {assignment} (scores unchanged; the reasons "
            "are in the manual-grading list and the CSV): " + ", ".join(reasons)
        )


def review_assignment(
    root: Path,
    db_url: str,
    assignment: str,
    manual: MutableMapping[str, str],
    report: RecheckReport,
    answers: Mapping[str, Mapping[str, str]],
    withheld: Iterable[str],
    say: Callable[[str], None] = print,
) -> copies.CopyReport:
    """After an assignment's re-check: detect copies among ``answers``
    (:func:`autograder.copies.read_answers`, read before any student code
    ran), and flag the copies and the scan's findings for review."""
    copy_report = copies.check_assignment(root, assignment, answers, withheld)
    for line in copies.summary(copy_report):
        say(line)
    recorded = load_state(paths.state_dir(), assignment)["students"]
    reasons = review_reasons(report, copy_report, recorded)
    flag_for_review(db_url, assignment, manual, reasons, say)
    return copy_report
