"""The nbgrader notebook format, as the course writes it: one place to read it.

* Cell roles (:func:`nbgrader_meta`, :func:`grade_id`, :func:`is_answer`,
  :func:`is_test`, :func:`points`): nbgrader keeps them in
  ``cell.metadata.nbgrader``. A submission is untrusted, so a lookup never
  fails on metadata of the wrong type (a list where a dict or a string
  belongs): such a cell simply has no role.
* The markers nbgrader strips from the release: solution regions
  (:data:`BEGIN_SOLUTION`, :data:`END_SOLUTION`) and hidden-test regions
  (:data:`BEGIN_HIDDEN`, :data:`END_HIDDEN`); :func:`split_hidden`,
  :func:`released_text`.
* Cell tags (:func:`has_tag`): the solution-only claim checks
  (:data:`CLAIM_CHECKS_TAG`) and the demos skipped under autograde
  (:data:`AUTOGRADE_SKIP_TAG`).
* IPython syntax (:func:`strip_magics`).
* The ``check(assignment, name, fn[, hidden=True])`` calls of test cells
  (:func:`read_check_call`, :func:`check_calls`): the one parser that the
  lint and the trusted re-check both use.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

__all__ = [
    "BEGIN_SOLUTION",
    "END_SOLUTION",
    "SOLUTION_MARKERS",
    "BEGIN_HIDDEN",
    "END_HIDDEN",
    "HIDDEN_KEYWORD",
    "RELEASE_LEAKS",
    "nbgrader_meta",
    "grade_id",
    "is_answer",
    "is_test",
    "points",
    "strip_magics",
    "split_hidden",
    "hidden_lines",
    "released_text",
    "CLAIM_CHECKS_TAG",
    "is_claim_check",
    "AUTOGRADE_SKIP_TAG",
    "has_tag",
    "CheckCall",
    "read_check_call",
    "check_calls",
]

BEGIN_SOLUTION, END_SOLUTION = "BEGIN SOLUTION", "END SOLUTION"
SOLUTION_MARKERS = (BEGIN_SOLUTION, END_SOLUTION)
BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
HIDDEN_KEYWORD = "hidden"  # check(..., hidden=True)
# Text that must never reach a student (the release, the feedback).
RELEASE_LEAKS = (BEGIN_HIDDEN, END_HIDDEN, f"{HIDDEN_KEYWORD}=True")
# The tag of a solution cell that asserts what the prose claims of the
# notebook's own output: run when the solution is executed, dropped from the
# release (autograder.nbgrader_ext.ClearClaimChecks), never graded.
CLAIM_CHECKS_TAG = "claim-checks"
# The tag of a solution cell declared a demo that no graded cell depends on:
# under autograde a submission's identical copy of it is skipped
# (autograder.demo_cells). Read from the source notebook only, never from a
# submission.
AUTOGRADE_SKIP_TAG = "autograde-skip"

# ------------------------------------------------------------ cell roles


def nbgrader_meta(cell) -> dict:
    """The cell's nbgrader metadata; ``{}`` if missing or not a dict."""
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return meta if isinstance(meta, dict) else {}


def grade_id(cell) -> str | None:
    """The cell's ``grade_id``, or None (also when it is not a string)."""
    value = nbgrader_meta(cell).get("grade_id")
    return value if isinstance(value, str) and value else None


def has_tag(cell, tag: str) -> bool:
    """Whether the cell's ``metadata.tags`` (a list, else no tags) holds ``tag``."""
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    tags = metadata.get("tags") if isinstance(metadata, dict) else None
    return isinstance(tags, list) and tag in tags


def is_claim_check(cell) -> bool:
    """A claim-check cell (:data:`CLAIM_CHECKS_TAG`): no part of any grade."""
    return has_tag(cell, CLAIM_CHECKS_TAG)


def is_answer(cell) -> bool:
    """An answer cell (nbgrader ``solution``) with a usable ``grade_id``."""
    return bool(nbgrader_meta(cell).get("solution")) and grade_id(cell) is not None


def is_test(cell) -> bool:
    """An autograded test cell (nbgrader ``grade``, not a solution)."""
    meta = nbgrader_meta(cell)
    return bool(meta.get("grade")) and not meta.get("solution") and bool(grade_id(cell))


def points(cell) -> float:
    """The cell's nbgrader ``points`` (0 when missing or not a number)."""
    value = nbgrader_meta(cell).get("points", 0)
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


# --------------------------------------------------------------- source

_MAGIC = re.compile(r"^(\s*)[%!]")


def strip_magics(source: str) -> str:
    """Replace IPython magic and shell lines by ``pass`` (same indentation)."""
    return "\n".join(
        _MAGIC.sub(r"\1pass  # ", line) if _MAGIC.match(line) else line
        for line in source.splitlines()
    )


def split_hidden(source: str) -> tuple[str, str]:
    """A test cell's source outside and inside its hidden-test region."""
    visible, hidden, inside = [], [], False
    for line in source.splitlines():
        if BEGIN_HIDDEN in line:
            inside = True
        elif END_HIDDEN in line:
            inside = False
        else:
            (hidden if inside else visible).append(line)
    return "\n".join(visible), "\n".join(hidden)


def hidden_lines(source: str) -> set[int]:
    """Line numbers (from 1) inside the hidden-test region, markers included."""
    found, inside = set(), False
    for number, line in enumerate(source.splitlines(), start=1):
        if BEGIN_HIDDEN in line:
            inside = True
        if inside:
            found.add(number)
        if END_HIDDEN in line:
            inside = False
    return found


def released_text(source: str) -> str:
    """A locked cell as students received it: no hidden region, no trailing blanks."""
    visible, _ = split_hidden(source)
    return "\n".join(line.rstrip() for line in visible.splitlines()).strip()


# ------------------------------------------------------ check(...) calls


@dataclass(frozen=True)
class CheckCall:
    """One ``check(assignment, name, fn[, hidden=...])`` call.

    ``problem`` is empty for a well-formed call (literal assignment and
    check names, the object as third argument, at most a literal
    ``hidden``); otherwise it says what is wrong, and the other fields hold
    what could be read.
    """

    assignment: str | None
    name: str | None
    expr: str  # the source of the third argument: the student's object
    hidden: bool
    line: int  # in the parsed source, from 1
    problem: str = ""


def _literal_str(node) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def read_check_call(node: ast.AST) -> CheckCall | None:
    """The :class:`CheckCall` of ``node``, or None if it is no ``check(...)`` call.

    ``check`` may be named directly or as an attribute (``checks.check``).
    """
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    if getattr(func, "id", getattr(func, "attr", None)) != "check":
        return None
    args, keywords = node.args, node.keywords
    hidden = [k for k in keywords if k.arg == HIDDEN_KEYWORD]
    literal = all(isinstance(k.value, ast.Constant) for k in hidden)
    problem = ""
    if len(args) != 3 or len(keywords) != len(hidden) or len(hidden) > 1:
        problem = "expected check(assignment, name, fn) with at most hidden=..."
    elif _literal_str(args[0]) is None or _literal_str(args[1]) is None:
        problem = "the assignment and check names must be literal strings"
    elif not literal:
        problem = "hidden= must be a literal True or False"
    return CheckCall(
        assignment=_literal_str(args[0]) if args else None,
        name=_literal_str(args[1]) if len(args) > 1 else None,
        expr=ast.unparse(args[2]) if len(args) > 2 else "",
        hidden=bool(hidden and literal and hidden[0].value.value),
        line=node.lineno,
        problem=problem,
    )


def check_calls(source: str) -> list[CheckCall]:
    """Every ``check(...)`` call in a cell's code, in order (SyntaxError if
    the code, magics aside, does not parse)."""
    tree = ast.parse(strip_magics(source))
    found = [read_check_call(node) for node in ast.walk(tree)]
    return sorted((c for c in found if c is not None), key=lambda c: c.line)
