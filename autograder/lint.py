"""Static checks of an assignment: its notebook agrees with its declarations.

Run by ``python -m autograder release`` (and so by CI through
``release --check``) before nbgrader generates anything, so that an author
learns at once about a test cell whose points disagree with its checks, a
check no cell runs, or a notebook committed with outputs.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import nbformat

from .checks import load_assignment

__all__ = ["lint_assignment", "check_calls", "split_hidden"]

_CALL = re.compile(
    r"""\bcheck\(\s*(['"])(?P<assignment>[^'"]+)\1\s*,\s*(['"])(?P<name>[^'"]+)\3"""
)
BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"


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


def check_calls(source: str) -> list[tuple[str, str, bool]]:
    """``(assignment, name, hidden)`` of each ``check(...)`` call in ``source``."""
    calls = []
    for m in _CALL.finditer(source):
        # the arguments run to the parenthesis that closes check(
        depth, end = 0, len(source)
        for i in range(source.index("(", m.start()), len(source)):
            depth += {"(": 1, ")": -1}.get(source[i], 0)
            if depth == 0:
                end = i
                break
        arguments = source[m.start() : end]
        calls.append((m["assignment"], m["name"], "hidden=True" in arguments))
    return calls


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _withheld_problems(module) -> list[str]:
    problems = []
    for dotted in getattr(module, "WITHHELD", []):
        module_name, _, attr = dotted.rpartition(".")
        try:
            target = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError, ValueError):
            problems.append(f"WITHHELD names {dotted!r}, which does not exist")
            continue
        if not callable(target) or not module_name.startswith("dlcore"):
            problems.append(f"WITHHELD names {dotted!r}, not a dlcore function")
    return problems


def lint_assignment(root: Path, assignment: str) -> list[str]:
    """Problems with ``solutions/<assignment>`` and its declarations (may be [])."""
    problems: list[str] = []
    try:
        module = load_assignment(assignment)
    except LookupError as err:
        return [str(err)]
    except Exception as err:  # a broken declaration module
        return [f"autograder/assignments/a{assignment}.py fails to import: {err!r}"]
    declared = {}
    for item in getattr(module, "CHECKS", []):
        if item.name in declared:
            problems.append(f"check {item.name!r} is declared twice")
        declared[item.name] = item
    problems += _withheld_problems(module)

    run_in: dict[str, str] = {}
    any_hidden = False
    notebooks = sorted((root / "solutions" / assignment).glob("*.ipynb"))
    if not notebooks:
        problems.append(f"solutions/{assignment}/ holds no notebook")
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        where = f"{path.name}"
        ids = [_nbgrader(c)["grade_id"] for c in nb.cells if "grade_id" in _nbgrader(c)]
        for grade_id in sorted({i for i in ids if ids.count(i) > 1}):
            problems.append(f"{where}: grade_id {grade_id!r} is used more than once")
        for index, cell in enumerate(nb.cells):
            label = f"{where} cell {index}"
            if cell.cell_type == "code" and (cell.outputs or cell.execution_count):
                problems.append(f"{label}: committed with outputs (clear them)")
            meta = _nbgrader(cell)
            calls = check_calls(cell.source) if cell.cell_type == "code" else []
            if not meta.get("grade"):
                if calls:
                    problems.append(f"{label}: check() outside an autograded test cell")
                continue
            grade_id = meta.get("grade_id", "?")
            visible_src, hidden_src = split_hidden(cell.source)
            visible = check_calls(visible_src)
            hidden = check_calls(hidden_src)
            any_hidden |= bool(hidden)
            for a, name, _ in visible + hidden:
                if a != assignment:
                    problems.append(
                        f"{label}: check({a!r}, ...) in assignment {assignment}"
                    )
                if name not in declared:
                    problems.append(f"{label}: check {name!r} is not declared")
            for _, name, is_hidden in visible:
                if is_hidden:
                    problems.append(
                        f"{label}: hidden=True outside the hidden-test markers"
                    )
                elif name in run_in and run_in[name] != grade_id:
                    problems.append(
                        f"check {name!r} runs in two test cells "
                        f"({run_in[name]!r} and {grade_id!r})"
                    )
                else:
                    run_in[name] = grade_id
            visible_names = {name for _, name, h in visible if not h}
            for _, name, is_hidden in hidden:
                if not is_hidden:
                    problems.append(
                        f"{label}: call inside the hidden markers lacks hidden=True"
                    )
                if name not in visible_names:
                    problems.append(
                        f"{label}: hidden check {name!r} has no visible call here"
                    )
            if visible_names and visible_names <= set(declared):
                expected = sum(declared[n].points for n in visible_names)
                if float(meta.get("points", 0)) != float(expected):
                    problems.append(
                        f"{label} ({grade_id}): points {meta.get('points')} but its "
                        f"checks are worth {expected:g}"
                    )
    for name in declared:
        if name not in run_in:
            problems.append(f"check {name!r} is declared but no test cell runs it")
    if notebooks and declared and not any_hidden:
        problems.append("no hidden tests: add check(..., hidden=True) calls")
    return problems
