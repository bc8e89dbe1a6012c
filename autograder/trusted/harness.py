"""The harness: the declared calls, cut out of the declaration module.

The child runs each check's ``call`` (and, for inputs that are not plain
data, its ``make_inputs``) without importing the declarations, dlcore's
references or anything of ``autograder``, which it cannot read. So
:func:`extract_harness` finds each ``Check(...)`` of the assignment's
module by its AST, takes the expression written as its ``call`` (or
``make_inputs``) argument, and keeps the module-level statements it needs
(the same slicing as :mod:`.program`: helpers, constants, imports). Hence
the authoring rule (``autograder/AUTHORING.md``): ``call`` and
``make_inputs`` are written inside ``Check(...)``, as a lambda or the name
of a module-level function, and need nothing of ``autograder``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .program import Unit, bindings_needed, names_of

__all__ = ["extract_harness"]


def _find_check_calls(
    tree: ast.Module, field: str = "call", position: int = 3
) -> dict[str, ast.expr]:
    """``{check name: the expression of its field}`` of each ``Check(...)``."""
    found: dict[str, ast.expr] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if getattr(func, "id", getattr(func, "attr", None)) != "Check":
            continue
        keywords = {k.arg: k.value for k in node.keywords if k.arg}
        name = keywords.get("name", node.args[0] if node.args else None)
        call = keywords.get(
            field, node.args[position] if len(node.args) > position else None
        )
        if isinstance(name, ast.Constant) and isinstance(name.value, str) and call:
            found[name.value] = call
    return found


def _imports_autograder(code: str) -> bool:
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: the declarations live inside autograder
                return True
            modules = [node.module or ""]
        else:
            continue
        if any(m == "autograder" or m.startswith("autograder.") for m in modules):
            return True
    return False


@dataclass(frozen=True)
class _Extracted:
    """A declared expression bound to ``alias``, and the module code it needs."""

    code: str
    units: set[int]  # indices of the module's statements it needs
    problem: str = ""  # why it cannot be extracted ("does not parse", ...)


def _extract(units: Sequence[Unit], alias: str, expr: ast.expr) -> _Extracted:
    code = f"{alias} = {ast.unparse(expr)}"
    found = names_of(code)
    if found is None:
        return _Extracted(code, set(), "does not parse")
    mine = bindings_needed(units, found[1])
    if any(_imports_autograder(units[i].code) for i in mine):
        return _Extracted(code, mine, "needs the autograder package")
    return _Extracted(code, mine)


def extract_harness(
    module_source: str, names: Iterable[str], build: Iterable[str] = ()
) -> tuple[str, dict]:
    """Code defining ``CALLS = {check name: call}`` for the named checks.

    For the checks in ``build`` (inputs that are not plain data) it also
    defines ``MAKERS = {check name: make_inputs}``: the child makes their
    inputs from the seeded generator it is given.

    Returns ``(code, problems)``: ``problems[name]`` explains each check
    whose ``call`` (or ``make_inputs``) could not be extracted (the rest
    still work). A harness never imports ``autograder``: the child cannot
    read it.
    """
    tree = ast.parse(module_source)
    calls = _find_check_calls(tree)
    makers = _find_check_calls(tree, "make_inputs", 2)
    build = set(build)
    units = []
    for stmt in tree.body:
        code = ast.unparse(stmt)
        found = names_of(code)
        if found is not None:
            units.append(Unit(code, *found))
    problems: dict[str, str] = {}
    kept: set[int] = set()
    entries = []
    maker_entries = []

    for index, name in enumerate(sorted(set(names))):
        expr = calls.get(name)
        if expr is None:
            problems[name] = "its Check(...) declaration has no literal name and call"
            continue
        got = _extract(units, f"_trusted_call_{index}", expr)
        if got.problem:
            problems[name] = f"its call {got.problem}"
            continue
        if name in build:
            if makers.get(name) is None:
                problems[name] = (
                    "its inputs are not plain data and its make_inputs cannot "
                    "be extracted"
                )
                continue
            made = _extract(units, f"_trusted_inputs_{index}", makers[name])
            if made.problem:
                problems[name] = (
                    f"its inputs are not plain data and its make_inputs {made.problem}"
                )
                continue
            kept |= made.units
            maker_entries.append((name, f"_trusted_inputs_{index}", made.code))
        kept |= got.units
        entries.append((name, f"_trusted_call_{index}", got.code))
    lines = [units[i].code for i in sorted(kept)]
    lines += [code for _, _, code in entries + maker_entries]
    lines.append("CALLS = {" + ", ".join(f"{n!r}: {a}" for n, a, _ in entries) + "}")
    lines.append(
        "MAKERS = {" + ", ".join(f"{n!r}: {a}" for n, a, _ in maker_entries) + "}"
    )
    return "\n".join(lines) + "\n", problems
