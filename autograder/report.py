"""The class report: what a graded class got wrong, part by part.

``python -m autograder report [ASSIGNMENT ...]`` reads, for each assignment,

* the gradebook: every submission's score per test cell (the score
  formgrader shows, so the trusted re-check's verdict:
  :func:`autograder.gradebook.class_scores`);
* the trusted re-check's records: the known misconceptions each
  submission's failing results matched, per test cell (the ``misconceptions``
  of each student in ``<state dir>/trusted/<assignment>.json``, written by
  :func:`autograder.trusted.recheck_assignment`);
* the declarations: the message of each misconception
  (:class:`autograder.declarations.Misconception`),

and writes ``<assignment>.html`` (per part: the distribution of scores as a
matplotlib figure, the pass rate and the most common misconceptions with
their counts) and ``<assignment>.csv`` (the same numbers, one row per part
and misconception). It is the instructor's view of what to teach again.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from matplotlib.figure import Figure

from . import gradebook
from .declarations import load_assignment
from .source import grade_id, is_test
from .trusted.results import load_state

__all__ = [
    "MistakeCount",
    "PartSummary",
    "ClassReport",
    "build_report",
    "write_csv",
    "write_html",
    "CSV_COLUMNS",
]

# The most common misconceptions shown per part.
TOP_MISTAKES = 5
# Parts per row of the figure.
FIGURE_COLUMNS = 4

CSV_COLUMNS = (
    "assignment",
    "part",
    "points",
    "submissions",
    "passed",
    "pass_rate",
    "mean_score",
    "check",
    "misconception",
    "students",
    "share",
    "message",
)


@dataclass(frozen=True)
class MistakeCount:
    """How many submissions made one known mistake in one part."""

    check: str
    name: str
    message: str
    students: int
    share: float  # of the submissions


@dataclass
class PartSummary:
    """One test cell over the class."""

    grade_id: str
    max_score: float
    scores: list[float] = field(default_factory=list)  # one per submission
    mistakes: list[MistakeCount] = field(default_factory=list)  # most common first

    @property
    def passed(self) -> int:
        return sum(math.isclose(s, self.max_score) for s in self.scores)

    @property
    def pass_rate(self) -> float:
        return self.passed / len(self.scores) if self.scores else 0.0

    @property
    def mean_score(self) -> float:
        return sum(self.scores) / len(self.scores) if self.scores else 0.0


@dataclass
class ClassReport:
    assignment: str
    students: list[str]
    parts: list[PartSummary]
    # submissions the re-check holds no record of: their mistakes are unknown
    not_rechecked: list[str] = field(default_factory=list)


# ------------------------------------------------------------- the data


def _part_order(root: Path, assignment: str) -> list[str]:
    """The test cells' grade ids in the order of the source notebooks."""
    order = []
    for path in sorted((root / "solutions" / assignment).glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        order += [grade_id(cell) for cell in notebook.cells if is_test(cell)]
    return order


def _messages(assignment: str) -> dict[tuple[str, str], str]:
    """``{(check, misconception): message}`` of the assignment's declarations."""
    return {
        (declared.name, mistake.name): mistake.message
        for declared in getattr(load_assignment(assignment), "CHECKS", [])
        for mistake in declared.misconceptions
    }


def _mistakes(
    recorded: Mapping[str, Mapping], grade: str, students: Sequence[str], messages
) -> list[MistakeCount]:
    """The misconceptions of one part, most common first."""
    counts: Counter = Counter()
    for student in students:
        entry = recorded.get(student, {})
        found = {tuple(pair) for pair in entry.get("misconceptions", {}).get(grade, [])}
        counts.update(found)
    return [
        MistakeCount(
            check,
            name,
            messages.get((check, name), "(no longer declared)"),
            count,
            count / len(students),
        )
        for (check, name), count in sorted(
            counts.items(), key=lambda item: (-item[1], item[0])
        )
    ]


def build_report(
    root: Path, assignment: str, db_url: str, state_dir: Path
) -> ClassReport:
    """The class report of ``assignment`` from the gradebook and the re-check."""
    scores = gradebook.class_scores(db_url, assignment)
    students = sorted(scores)
    recorded = load_state(state_dir, assignment)["students"]
    messages = _messages(assignment)
    order = _part_order(root, assignment)
    known = {g for by_part in scores.values() for g in by_part}
    grades = [g for g in order if g in known] + sorted(known - set(order))
    parts = []
    for grade in grades:
        maxima = [by_part[grade][1] for by_part in scores.values() if grade in by_part]
        max_score = float(max(maxima, default=0.0) or 0.0)
        part = PartSummary(grade, max_score)
        part.scores = [
            float(scores[s].get(grade, (0.0, max_score))[0] or 0.0) for s in students
        ]
        part.mistakes = _mistakes(recorded, grade, students, messages)
        parts.append(part)
    missing = [s for s in students if s not in recorded]
    return ClassReport(assignment, students, parts, missing)


# ------------------------------------------------------------ the files


def _rows(report: ClassReport) -> list[list]:
    rows = []
    for part in report.parts:
        common = [
            report.assignment,
            part.grade_id,
            f"{part.max_score:g}",
            len(part.scores),
            part.passed,
            f"{part.pass_rate:.3f}",
            f"{part.mean_score:.3f}",
        ]
        if not part.mistakes:
            rows.append([*common, "", "", 0, "0.000", ""])
        for mistake in part.mistakes:
            rows.append(
                [
                    *common,
                    mistake.check,
                    mistake.name,
                    mistake.students,
                    f"{mistake.share:.3f}",
                    mistake.message,
                ]
            )
    return rows


def write_csv(report: ClassReport, path: Path) -> Path:
    """One row per part and misconception (one row for a part without any)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(_rows(report))
    return path


def _figure(report: ClassReport) -> str:
    """The score distribution of every part, as a base64 PNG."""
    count = max(len(report.parts), 1)
    columns = min(FIGURE_COLUMNS, count)
    rows = math.ceil(count / columns)
    figure = Figure(figsize=(3.2 * columns, 2.4 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False)
    for ax, part in zip(axes.flat, report.parts, strict=False):
        values = Counter(part.scores)
        levels = sorted(set(values) | {0.0, part.max_score})
        ax.bar(
            [f"{v:g}" for v in levels],
            [values.get(v, 0) for v in levels],
            color=[
                "tab:green" if math.isclose(v, part.max_score) else "tab:red"
                for v in levels
            ],
        )
        ax.set_title(f"{part.grade_id}\n{part.pass_rate:.0%} passed", fontsize=9)
        ax.set_xlabel("score", fontsize=8)
        ax.set_ylabel("submissions", fontsize=8)
        ax.tick_params(labelsize=8)
    for ax in list(axes.flat)[len(report.parts) :]:
        ax.set_visible(False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _part_html(part: PartSummary) -> str:
    rows = "".join(
        f"<li><b>{m.share:.0%}</b> of the class ({m.students} of "
        f"{len(part.scores)}): {html.escape(m.message)} "
        f"<code>{html.escape(m.check)}/{html.escape(m.name)}</code></li>"
        for m in part.mistakes[:TOP_MISTAKES]
    )
    mistakes = f"<ul>{rows}</ul>" if rows else "<p>no known misconception named</p>"
    return (
        f"<h3>{html.escape(part.grade_id)}</h3>"
        f"<p>{part.max_score:g} point(s); passed by {part.passed} of "
        f"{len(part.scores)} ({part.pass_rate:.0%}); mean {part.mean_score:.2f}</p>"
        f"{mistakes}"
    )


def write_html(report: ClassReport, path: Path) -> Path:
    """A page: the figure, then per part its pass rate and common mistakes."""
    title = f"Class report: {report.assignment}"
    missing = ""
    if report.not_rechecked:
        names = ", ".join(html.escape(s) for s in report.not_rechecked)
        missing = (
            f"<p>The trusted re-check holds no record of {names}: their "
            "misconceptions are not counted.</p>"
        )
    page = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>"
        "</head><body>"
        f"<h1>{title}</h1><p>{len(report.students)} submission(s).</p>{missing}"
        f"<img alt='score distribution per part' "
        f"src='data:image/png;base64,{_figure(report)}'>"
        + "".join(_part_html(part) for part in report.parts)
        + "</body></html>\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page)
    return path
