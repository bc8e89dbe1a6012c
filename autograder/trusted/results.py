"""What the trusted re-check finds, and what it remembers between runs.

* :class:`PartResult` (one test cell), :class:`NotebookResult`,
  :class:`SubmissionResult`: the verdicts of a :class:`~.recheck.Session`;
* :class:`Change` (a grade the re-check changed in the gradebook) and
  :class:`RecheckReport` (a whole run of :func:`~.recheck.recheck_assignment`);
* the resume state: per student, the fingerprint of everything the verdict
  depended on (:func:`load_state`, :func:`save_state`), so that an
  interrupted run resumes where it stopped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .scan import Flag

__all__ = [
    "TRUSTED_VERSION",
    "PartResult",
    "NotebookResult",
    "SubmissionResult",
    "Change",
    "RecheckReport",
    "load_state",
    "save_state",
]

# Bumped when the re-check's rules change: completed students are redone.
TRUSTED_VERSION = 2


@dataclass
class PartResult:
    """One test cell (nbgrader grade cell) of a notebook."""

    grade_id: str
    max_score: float
    trusted: float | None  # None: the re-check cannot redo this cell
    messages: list[str] = field(default_factory=list)
    unsupported: str = ""
    answer_cells: list[str] = field(default_factory=list)
    # failed, and only in hidden checks: the visible tests in the kernel
    # passed and the kernel left the hidden ones to the re-check
    hidden_only: bool = False
    # the known mistakes the failing results matched: [check, misconception]
    misconceptions: list[list[str]] = field(default_factory=list)

    def record_misconception(self, check: str, name: str) -> None:
        """Remember a named mistake once (visible and hidden calls may both match)."""
        if [check, name] not in self.misconceptions:
            self.misconceptions.append([check, name])


@dataclass
class NotebookResult:
    notebook: str
    parts: dict[str, PartResult]
    seconds: float = 0.0
    attempts: int = 0
    events: list[str] = field(default_factory=list)
    cell_errors: list[str] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    flags: list[Flag] = field(default_factory=list)
    missing: bool = False
    dropped: dict[str, str] = field(default_factory=dict)  # answer id -> why

    @property
    def score(self) -> float:
        return sum(p.trusted or 0.0 for p in self.parts.values())

    @property
    def max_score(self) -> float:
        return sum(p.max_score for p in self.parts.values())


@dataclass
class SubmissionResult:
    student: str
    assignment: str
    notebooks: list[NotebookResult]

    @property
    def score(self) -> float:
        return sum(nb.score for nb in self.notebooks)

    @property
    def max_score(self) -> float:
        return sum(nb.max_score for nb in self.notebooks)

    @property
    def flags(self) -> list[Flag]:
        return [f for nb in self.notebooks for f in nb.flags]

    @property
    def seconds(self) -> float:
        return sum(nb.seconds for nb in self.notebooks)

    def parts(self) -> dict[str, float | None]:
        """``{grade_id: trusted score}`` over all notebooks."""
        return {
            part.grade_id: part.trusted
            for nb in self.notebooks
            for part in nb.parts.values()
        }

    def misconceptions(self) -> dict[str, list[list[str]]]:
        """``{grade_id: [[check, misconception], ...]}`` of the parts with any."""
        return {
            part.grade_id: list(part.misconceptions)
            for nb in self.notebooks
            for part in nb.parts.values()
            if part.misconceptions
        }


@dataclass
class Change:
    """A grade the re-check changed in the gradebook."""

    student: str
    notebook: str
    grade_id: str
    nbgrader: float | None  # nbgrader's in-kernel (auto) score
    before: float | None  # the score the gradebook showed before
    trusted: float
    max_score: float
    hidden: bool = False  # a hidden test failed, the kernel's run deferred it

    def __str__(self) -> str:
        def fmt(x):
            return "no score" if x is None else f"{x:g}"

        if self.hidden:
            text = (
                f"{self.grade_id}: hidden test failed, trusted "
                f"{fmt(self.trusted)} / {fmt(self.max_score)}"
            )
        else:
            text = (
                f"{self.grade_id}: nbgrader {fmt(self.nbgrader)}, trusted "
                f"{fmt(self.trusted)} / {fmt(self.max_score)}"
            )
        if self.before != self.nbgrader:
            text += f" (gradebook showed {fmt(self.before)})"
        return text


@dataclass
class RecheckReport:
    assignment: str
    results: dict[str, SubmissionResult] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sandbox: dict = field(default_factory=dict)
    children: str = ""  # how the session started its children
    seconds: float = 0.0

    @property
    def changed_students(self) -> list[str]:
        return sorted({c.student for c in self.changes})

    @property
    def seconds_per_notebook(self) -> list[float]:
        return [
            nb.seconds
            for result in self.results.values()
            for nb in result.notebooks
            if not nb.missing
        ]

    def lines(self) -> list[str]:
        times = sorted(self.seconds_per_notebook)
        median = times[len(times) // 2] if times else 0.0
        confinement = ", ".join(f"{k} {v}" for k, v in self.sandbox.items())
        lines = [
            f"trusted re-check of {self.assignment}: {len(self.results)} "
            f"submission(s) re-checked, {len(self.skipped)} already done; "
            f"median {median:.2f} s per notebook; sandbox: {confinement or '-'}; "
            f"children: {self.children or '-'}"
        ]
        by_student: dict[str, list[Change]] = {}
        for change in self.changes:
            by_student.setdefault(change.student, []).append(change)
        for student, result in self.results.items():
            status = "agrees with the gradebook"
            if student in by_student:
                mine = by_student[student]
                label = "CHANGED" if any(not c.hidden for c in mine) else "SCORED"
                status = f"{label}: " + "; ".join(str(c) for c in mine)
            lines.append(
                f"  {student:<24} {result.score:>6g} / {result.max_score:<6g} {status}"
            )
            for nb in result.notebooks:
                for event in nb.events:
                    lines.append(f"      {nb.notebook}: {event}")
        for student, why in self.failed.items():
            lines.append(f"  {student:<24} NOT RE-CHECKED: {why}")
        for note in self.notes:
            lines.append(f"  note: {note}")
        flagged = {s: r.flags for s, r in self.results.items() if r.flags}
        if flagged:
            lines.append("suspicious code (static scan; flags only, not graded):")
            for student, flags in flagged.items():
                for flag in flags:
                    lines.append(f"  {student}: {flag}")
        if self.changed_students:
            lines.append(
                "grades changed by the trusted re-check (failed hidden tests, or "
                "where it disagrees with nbgrader; the trusted verdict is in the "
                "gradebook, with a comment): " + ", ".join(self.changed_students)
            )
        return lines

    def print(self, out: Callable[[str], None] = print) -> None:
        for line in self.lines():
            out(line)


# ------------------------------------------------------- resume state


def _state_path(state_dir: Path, assignment: str) -> Path:
    return state_dir / "trusted" / f"{assignment}.json"


def load_state(state_dir: Path, assignment: str) -> dict:
    path = _state_path(state_dir, assignment)
    try:
        state = json.loads(path.read_text())
        if isinstance(state, dict) and isinstance(state.get("students"), dict):
            return state
    except (OSError, ValueError):
        pass
    return {"version": TRUSTED_VERSION, "students": {}}


def save_state(state_dir: Path, assignment: str, state: dict) -> None:
    path = _state_path(state_dir, assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)
