"""Copy detection: answer cells that resemble dlcore's code or another
student's, found with copydetect's winnowing fingerprints (the MOSS method).

For each assignment and each graded answer cell ("part", by its nbgrader
``grade_id``), every student's answer is compared

* with dlcore's source of the function(s) the part implements: those the
  solution's cell defines that the assignment withholds (its ``WITHHELD``
  list), and
* with every other student's answer to the same part.

What everyone was given does not count (copydetect's *boilerplate*): the
release notebook's template of the cell (signature, docstring, the
``raise NotImplementedError()`` stub) and the instructor's solution of it.
Consequence of the second: a student whose answer is the model answer (or
close to it: names do not count, copydetect replaces them) resembles
nobody, and two students who both wrote the model answer are not flagged;
what is compared is what each wrote beyond it. An answer with fewer than
:data:`MIN_TOKENS` tokens left once the boilerplate is removed is too short
to judge (:class:`TooShort`), never flagged.

A resemblance of :data:`SIMILARITY_THRESHOLD` or more is a
:class:`Resemblance`: the share of the student's own tokens (boilerplate
removed) found in the other text. It is a flag for a person to look at,
never a score: the autograde command puts the reason, which names the
partner, on the instructor's manual-grading list and in the CSV's
``reason`` column only, never in the gradebook's comments, which reach the
student's feedback.

Everything here works on plain data (cell sources, notebook paths);
:func:`render` is the one place records become text.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from copydetect import CodeFingerprint, compare_files

from .safe_files import read_regular
from .source import SOLUTION_MARKERS, grade_id, is_answer

__all__ = [
    "SIMILARITY_THRESHOLD",
    "MIN_TOKENS",
    "NOISE_TOKENS",
    "GUARANTEE_TOKENS",
    "REFERENCE",
    "Resemblance",
    "TooShort",
    "CopyReport",
    "answer_cells",
    "notebook_names",
    "read_answers",
    "check_assignment",
    "reference_sources",
    "detect_copies",
    "render",
    "manual_reasons",
    "summary",
]

# A resemblance at or above this share of the student's own tokens is
# flagged. Measured on the course run's corpus (01_backprop): honest answers
# written differently from the solution share at most 12 % with dlcore's
# code, a copy of dlcore's ELU pasted into the template (variables renamed,
# validation dropped) 89 %, a lightly edited copy of another student 100 %.
SIMILARITY_THRESHOLD = 0.60
# An answer with fewer tokens than this left once the boilerplate is removed
# is too short to judge (a one-line answer resembles every other one).
MIN_TOKENS = 40
# copydetect's two thresholds: matches shorter than NOISE_TOKENS tokens are
# ignored, matches of GUARANTEE_TOKENS or more are always found. A token is
# what copydetect's filter leaves of the code: each name becomes one letter,
# each operator or bracket stays one character, whitespace and comments go.
# Its defaults (25, 30) are made for whole files; an answer cell is a few
# lines. Equal thresholds make the winnowing window 1: every k-gram is a
# fingerprint. A wider window keeps fewer, but which ones depends on Python's
# per-process string hash (copydetect hashes with ``hash``): the share then
# varied by up to 25 points between two runs on the same answers; with
# window 1 it is the same on every run.
NOISE_TOKENS = 15
GUARANTEE_TOKENS = 15
# The partner of a resemblance with dlcore's own code.
REFERENCE = "dlcore"
# The largest notebook read (bytes): a submission is untrusted.
_NOTEBOOK_LIMIT = 64 * 1024 * 1024


@dataclass(frozen=True)
class Resemblance:
    """``student``'s answer to ``part`` resembles ``partner``'s.

    ``partner`` is another student, or :data:`REFERENCE` with ``functions``
    the dotted names of the dlcore functions resembled. ``similarity`` is
    the share (0 to 1) of the student's own tokens found in the partner's.
    """

    student: str
    part: str
    partner: str
    similarity: float
    functions: tuple[str, ...] = ()


@dataclass(frozen=True)
class TooShort:
    """``student``'s answer to ``part`` has ``tokens`` tokens beyond the
    boilerplate: too few to judge."""

    student: str
    part: str
    tokens: int


@dataclass
class CopyReport:
    """The copy detection of one assignment."""

    assignment: str
    students: int = 0
    parts: int = 0
    comparisons: int = 0
    resemblances: list[Resemblance] = field(default_factory=list)
    too_short: list[TooShort] = field(default_factory=list)

    def flagged(self) -> dict[str, list[Resemblance]]:
        """``{student: [resemblance, ...]}``, strongest first."""
        found: dict[str, list[Resemblance]] = {}
        for item in sorted(self.resemblances, key=lambda r: -r.similarity):
            found.setdefault(item.student, []).append(item)
        return dict(sorted(found.items()))


# ------------------------------------------------------------ reading


def answer_cells(notebook) -> dict[str, str]:
    """``{grade_id: source}`` of the code answer cells of an nbformat notebook
    (cells with malformed metadata have no role and are left out)."""
    return {
        grade_id(cell): cell.source
        for cell in notebook.cells
        if cell.get("cell_type") == "code"
        and is_answer(cell)
        and isinstance(cell.get("source"), str)
    }


def notebook_names(root: Path, assignment: str) -> list[str]:
    """The assignment's notebooks (``solutions/<assignment>/*.ipynb``), by name."""
    return sorted(
        p.stem for p in (Path(root) / "solutions" / assignment).glob("*.ipynb")
    )


def read_answers(
    root: Path, submissions: Path, assignment: str, students: Iterable[str]
) -> dict[str, dict[str, str]]:
    """``{student: {part: source}}`` from ``<submissions>/<student>/<assignment>/
    <notebook>.ipynb``: regular files only, never through a link; a missing or
    unreadable notebook gives no answers.

    Call it before any student code runs (nbgrader's kernels could rewrite
    the files). A part is the answer cell's ``grade_id``, prefixed with
    ``<notebook>/`` when the assignment has several notebooks.
    """
    notebooks = notebook_names(root, assignment)
    found: dict[str, dict[str, str]] = {}
    for student in students:
        answers: dict[str, str] = {}
        folder = Path(submissions) / student / assignment
        for name in notebooks:
            try:
                data = read_regular(folder, folder / f"{name}.ipynb", _NOTEBOOK_LIMIT)
                cells = answer_cells(nbformat.reads(data.decode(), as_version=4))
            except Exception:  # anything a malformed submission raises:
                continue  # the structure check and the re-check say why
            answers.update(
                (_part(name, notebooks, gid), text) for gid, text in cells.items()
            )
        found[student] = answers
    return found


def _notebook_answers(path: Path) -> dict[str, str]:
    return answer_cells(nbformat.read(path, as_version=4)) if path.is_file() else {}


def check_assignment(
    root: Path, assignment: str, answers: Mapping, withheld: Iterable[str]
) -> CopyReport:
    """:func:`detect_copies` of an assignment of the course at ``root``:
    the boilerplate from its release (``notebooks/``) and its solution
    (``solutions/``), dlcore's code from the functions it withholds."""
    names = notebook_names(root, assignment)
    release, solution = {}, {}
    for name in names:
        for folder, parts in (("notebooks", release), ("solutions", solution)):
            cells = _notebook_answers(
                Path(root) / folder / assignment / f"{name}.ipynb"
            )
            parts.update((_part(name, names, gid), text) for gid, text in cells.items())
    references = reference_sources(solution, withheld)
    return detect_copies(assignment, answers, release, solution, references)


def _part(notebook: str, notebooks: Sequence[str], gid: str) -> str:
    return gid if len(notebooks) == 1 else f"{notebook}/{gid}"


def _defined_names(source: str) -> set[str]:
    """Top-level functions, classes and names a cell defines."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _dlcore_source(dotted: str) -> str:
    """The source text of a dlcore function (``module.name``)."""
    module, _, name = dotted.rpartition(".")
    try:
        obj = getattr(importlib.import_module(module), name)
        return inspect.getsource(inspect.unwrap(obj))
    except (ImportError, AttributeError, OSError, TypeError) as err:
        raise ValueError(
            f"withheld must name dlcore functions whose source can be read; "
            f"{dotted!r}: {type(err).__name__}: {err}"
        ) from None


def reference_sources(
    solution_answers: Mapping[str, str], withheld: Iterable[str]
) -> dict[str, tuple[tuple[str, ...], str]]:
    """``{part: (dlcore names, their source)}`` for the parts whose solution
    defines a function the assignment withholds (matched by name)."""
    by_name: dict[str, list[str]] = {}
    for dotted in withheld:
        if not isinstance(dotted, str) or "." not in dotted:
            raise ValueError(
                "withheld must list dotted names such as "
                f"'dlcore.functional.relu_forward', received {dotted!r}"
            )
        by_name.setdefault(dotted.rpartition(".")[2], []).append(dotted)
    found = {}
    for part, text in solution_answers.items():
        names = sorted(
            dotted
            for defined in _defined_names(text)
            for dotted in by_name.get(defined, [])
        )
        if names:
            found[part] = (
                tuple(names),
                "\n\n".join(_dlcore_source(n) for n in names),
            )
    return found


# ---------------------------------------------------------- comparing


def _fingerprint(code: str, boilerplate=()) -> CodeFingerprint:
    return CodeFingerprint(
        "answer.py",
        NOISE_TOKENS,
        GUARANTEE_TOKENS - NOISE_TOKENS + 1,
        boilerplate=list(boilerplate),
        fp=io.StringIO(code),
        language="python",
    )


def _without_markers(source: str) -> str:
    return "\n".join(
        line for line in source.splitlines() if line.strip("# ") not in SOLUTION_MARKERS
    )


def _check_answers(name: str, value) -> None:
    if not isinstance(value, Mapping) or not all(
        isinstance(s, str) and isinstance(a, Mapping) for s, a in value.items()
    ):
        raise TypeError(
            f"{name} must map student -> {{part: source}}, received "
            f"{type(value).__name__}"
        )


def detect_copies(
    assignment: str,
    answers: Mapping[str, Mapping[str, str]],
    release: Mapping[str, str],
    solution: Mapping[str, str],
    references: Mapping[str, tuple[tuple[str, ...], str]] | None = None,
) -> CopyReport:
    """Compare every student's answer to each part with dlcore's source and
    with the other students' answers.

    Parameters
    ----------
    assignment : str
        For the report.
    answers : {student: {part: source}}
        What each student wrote (:func:`read_answers`).
    release, solution : {part: source}
        The release notebook's template and the instructor's solution of
        each part (:func:`answer_cells`): the boilerplate. Only the parts
        of ``solution`` are compared.
    references : {part: (dlcore names, source)}, optional
        dlcore's own code of the parts (:func:`reference_sources`).
    """
    references = references or {}
    if not isinstance(assignment, str) or not assignment:
        raise TypeError(
            f"assignment must be a non-empty string, received {assignment!r}"
        )
    _check_answers("answers", answers)
    for name, given in (("release", release), ("solution", solution)):
        if not isinstance(given, Mapping):
            raise TypeError(
                f"{name} must map part -> source, received {type(given).__name__}"
            )
    report = CopyReport(assignment, students=len(answers), parts=len(solution))
    for part in sorted(solution):
        boilerplate = set()
        for given in (release.get(part, ""), _without_markers(solution[part])):
            boilerplate |= _fingerprint(given).hashes
        prints = {}
        for student in sorted(answers):
            text = answers[student].get(part)
            if not isinstance(text, str):
                continue
            prints[student] = _fingerprint(text, boilerplate)
            tokens = int(prints[student].token_coverage)
            if tokens < MIN_TOKENS:
                del prints[student]
                if tokens:  # (none: nothing beyond the boilerplate)
                    report.too_short.append(TooShort(student, part, tokens))
        _compare_part(report, part, prints, references.get(part), boilerplate)
    return report


def _compare_part(report, part, prints, reference, boilerplate) -> None:
    if reference is not None:
        functions, code = reference
        theirs = _fingerprint(code, boilerplate)
        for student, mine in prints.items():
            report.comparisons += 1
            _, (similarity, _), _ = compare_files(mine, theirs)
            if similarity >= SIMILARITY_THRESHOLD:
                report.resemblances.append(
                    Resemblance(student, part, REFERENCE, float(similarity), functions)
                )
    students = sorted(prints)
    for i, student in enumerate(students):
        for other in students[i + 1 :]:
            report.comparisons += 1
            _, (mine, theirs), _ = compare_files(prints[student], prints[other])
            for who, partner, share in (
                (student, other, mine),
                (other, student, theirs),
            ):
                if share >= SIMILARITY_THRESHOLD:
                    report.resemblances.append(
                        Resemblance(who, part, partner, float(share))
                    )


# ------------------------------------------------------------ reading it


def render(item: Resemblance | TooShort) -> str:
    """One record as the instructor reads it (names the partner: never for
    the student's feedback)."""
    if isinstance(item, TooShort):
        return (
            f"answer to part {item.part} too short to compare ({item.tokens} "
            f"tokens beyond the template and the solution, fewer than {MIN_TOKENS})"
        )
    if not isinstance(item, Resemblance):
        raise TypeError(
            f"item must be a Resemblance or a TooShort, received {type(item).__name__}"
        )
    share = f"{item.similarity:.0%}".replace("%", " %")
    if item.partner == REFERENCE:
        names = ", ".join(f"`{n.rpartition('.')[2]}`" for n in item.functions)
        return f"answer to part {item.part} resembles dlcore's {names} ({share})"
    return (
        f"answer to part {item.part} resembles student {item.partner}'s answer "
        f"({share})"
    )


def manual_reasons(report: CopyReport) -> dict[str, str]:
    """``{student: reason}`` for the manual-grading list: every resemblance
    of the student, strongest first, with what a person should do."""
    return {
        student: "possible copy (compare by hand; not re-scored): "
        + "; ".join(render(item) for item in items)
        for student, items in report.flagged().items()
    }


def summary(report: CopyReport) -> list[str]:
    """The lines the autograde command prints."""
    lines = [
        f"copy detection of {report.assignment}: {report.students} submission(s), "
        f"{report.parts} part(s), {report.comparisons} comparison(s); "
        f"{len(report.too_short)} answer(s) too short to judge; threshold "
        f"{SIMILARITY_THRESHOLD:.0%}"
    ]
    for student, items in report.flagged().items():
        for item in items:
            lines.append(f"  {student}: {render(item)}")
    return lines
