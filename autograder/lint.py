"""Static checks of an assignment: its notebook agrees with its declarations.

Run by ``python -m autograder release`` (and so by CI through
``release --check``) before nbgrader generates anything, so that an author
learns at once about a test cell whose points disagree with its checks, a
check no cell runs, a notebook committed with outputs, or a declared demo
(``autograde-skip``) that a later cell depends on.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import nbformat

from .declarations import load_assignment
from .demo_cells import demo_problems
from .source import check_calls, grade_id, hidden_lines, is_test, nbgrader_meta
from .source import points as points_of
from .trusted.harness import extract_harness

__all__ = ["lint_assignment"]


def _withheld_problems(module) -> list[str]:
    """Each ``WITHHELD`` name must be a dlcore function, class or method."""
    problems = []
    for dotted in getattr(module, "WITHHELD", []):
        parts = str(dotted).split(".")
        target = None
        for end in range(len(parts) - 1, 0, -1):
            try:
                target = importlib.import_module(".".join(parts[:end]))
            except ImportError:
                continue
            for name in parts[end:]:
                target = getattr(target, name, None)
            break
        if parts[0] != "dlcore" or not callable(target):
            problems.append(
                f"WITHHELD names {dotted!r}, which is not a dlcore function, "
                "class or method"
            )
    return problems


def _harness_imports_dlcore(code: str) -> bool:
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module or ""]
        else:
            continue
        if any(m == "dlcore" or m.startswith("dlcore.") for m in modules):
            return True
    return False


def _needs_dlcore_problems(module) -> list[str]:
    """A check whose ``call`` or ``make_inputs`` uses dlcore must say so
    (``needs_dlcore=True``): the re-check's other children have none."""
    source = Path(module.__file__).read_text()
    problems = []
    for declared in getattr(module, "CHECKS", []):
        if declared.needs_dlcore:
            continue
        code, _ = extract_harness(source, [declared.name], build=[declared.name])
        if _harness_imports_dlcore(code):
            problems.append(
                f"check {declared.name!r}: its call or make_inputs uses dlcore; "
                "declare it with needs_dlcore=True"
            )
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
    problems += _needs_dlcore_problems(module)

    run_in: dict[str, str] = {}
    any_hidden = False
    notebooks = sorted((root / "solutions" / assignment).glob("*.ipynb"))
    if not notebooks:
        problems.append(f"solutions/{assignment}/ holds no notebook")
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        problems += _duplicate_ids(path.name, nb)
        problems += demo_problems(nb, f"solutions/{assignment}/{path.name}")
        for index, cell in enumerate(nb.cells):
            label = f"{path.name} cell {index}"
            if cell.cell_type != "code":
                continue
            if cell.outputs or cell.execution_count:
                problems.append(f"{label}: committed with outputs (clear them)")
            try:
                calls = check_calls(cell.source)
            except SyntaxError as err:
                problems.append(f"{label}: does not parse ({err.msg})")
                continue
            if not is_test(cell):
                if calls:
                    problems.append(f"{label}: check() outside an autograded test cell")
                continue
            hidden_region = hidden_lines(cell.source)
            any_hidden |= any(c.line in hidden_region for c in calls)
            problems += _test_cell_problems(
                label, cell, calls, hidden_region, assignment, declared, run_in
            )
    for name in declared:
        if name not in run_in:
            problems.append(f"check {name!r} is declared but no test cell runs it")
    if notebooks and declared and not any_hidden:
        problems.append("no hidden tests: add check(..., hidden=True) calls")
    return problems


def _duplicate_ids(where: str, nb) -> list[str]:
    ids = [grade_id(c) for c in nb.cells if grade_id(c)]
    return [
        f"{where}: grade_id {i!r} is used more than once"
        for i in sorted({i for i in ids if ids.count(i) > 1})
    ]


def _test_cell_problems(
    label, cell, calls, hidden_region, assignment, declared, run_in
) -> list[str]:
    """What is wrong with the check(...) calls of one test cell.

    ``run_in`` (check name -> the test cell that runs it) is updated.
    """
    problems = []
    this = grade_id(cell)
    visible = [c for c in calls if c.line not in hidden_region]
    hidden = [c for c in calls if c.line in hidden_region]
    for call in calls:
        if call.problem:
            problems.append(f"{label}: {call.problem}")
        if call.assignment != assignment:
            problems.append(
                f"{label}: check({call.assignment!r}, ...) in assignment {assignment}"
            )
        if call.name not in declared:
            problems.append(f"{label}: check {call.name!r} is not declared")
    for call in visible:
        if call.hidden:
            problems.append(f"{label}: hidden=True outside the hidden-test markers")
        elif call.name in run_in and run_in[call.name] != this:
            problems.append(
                f"check {call.name!r} runs in two test cells "
                f"({run_in[call.name]!r} and {this!r})"
            )
        else:
            run_in[call.name] = this
    visible_names = {c.name for c in visible if not c.hidden}
    for call in hidden:
        if not call.hidden:
            problems.append(
                f"{label}: call inside the hidden markers lacks hidden=True"
            )
        if call.name not in visible_names:
            problems.append(
                f"{label}: hidden check {call.name!r} has no visible call here"
            )
    if visible_names and visible_names <= set(declared):
        expected = sum(declared[n].points for n in visible_names)
        stated = nbgrader_meta(cell).get("points")
        if points_of(cell) != float(expected):
            problems.append(
                f"{label} ({this}): points {stated} but its checks are worth "
                f"{expected:g}"
            )
    return problems
