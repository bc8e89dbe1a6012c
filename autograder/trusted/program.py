"""What the child runs: a submission's answers, the source's locked cells, and
the graded calls, in notebook order.

The program is built from two notebooks:

* the **source** notebook (``solutions/<assignment>/<name>.ipynb``) gives every
  locked cell and every test cell. The submission's copies of them are never
  used, so a student who edits, deletes, retypes or duplicates a locked or a
  test cell changes nothing;
* the **submitted** notebook gives the answer cells (nbgrader ``solution``
  cells, matched by ``grade_id``) and any cell the student added
  ("extra" cells), each placed after the cell it followed in the submission.

Test cells are not executed. Each ``check(assignment, name, fn[,
hidden=True])`` call in them becomes a *call step*: the child evaluates
the ``fn`` expression (e.g. ``(relu_forward, relu_backward)``) in the
notebook's namespace and applies the declaration's ``call`` to it on inputs
the parent made from the seed; the parent compares what comes back.

Which cells run (the rule)
--------------------------
* Answer cells run whole, as the student wrote them.
* Locked and extra cells are cut into top-level statements, and a statement
  runs only if

  - it *binds a name the graded code needs*: a name used by a call step's
    ``fn`` expression, by an answer cell (at top level or as a global
    inside its functions), or, transitively, by a statement already kept
    (all the bindings of such a name are kept, wherever they are: Python
    functions look up globals when called, not when defined); or
  - before the last use of a needed *value*, it may change that value in
    place: a method call on it or an item/attribute assignment
    (``model.fit(...)``, ``params[0] = ...``), or, for an object a test
    cell grades directly, passing it to a function
    (``train_lenet(lenet, ...)``). Names bound only by imports or
    ``def``/``class`` never count as changed.

  So imports and helper definitions the answers use run (``import numpy as
  np``, ``ACTIVATIONS = {...}``); experiments, training runs, plots and
  prints do not. Names are resolved with :mod:`symtable`, so a function's
  parameters and locals never count as needs.
* IPython syntax: lines starting with ``%`` or ``!`` (magics, shell
  commands) are replaced by ``pass``; everything else is plain Python.

The same slicing extracts the declared calls the child runs
(:mod:`.harness`).
"""

from __future__ import annotations

import ast
import symtable
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..source import (
    grade_id,
    is_answer,
    is_claim_check,
    is_test,
    points,
    read_check_call,
    strip_magics,
)
from . import protocol

__all__ = [
    "CallSpec",
    "GradeCellSpec",
    "Step",
    "SourceNotebook",
    "Program",
    "build_program",
    "imported_modules",
]


# ------------------------------------------------------------- names


def _scope_globals(table: symtable.SymbolTable, out: set[str]) -> None:
    """Names a nested scope resolves globally (recursively)."""
    for child in table.get_children():
        for symbol in child.get_symbols():
            if symbol.is_global():
                out.add(symbol.get_name())
        _scope_globals(child, out)


def names_of(code: str) -> tuple[set[str], set[str]] | None:
    """``(binds, needs)`` of top-level code, or None if it does not parse.

    ``binds``: names the code assigns, imports or defines at top level (or
    declares ``global`` and assigns in a function). ``needs``: names it
    reads at top level, plus the globals its functions, classes, lambdas
    and comprehensions read.
    """
    try:
        table = symtable.symtable(code, "<cell>", "exec")
    except (SyntaxError, ValueError):
        return None
    binds, needs = set(), set()
    for symbol in table.get_symbols():
        name = symbol.get_name()
        if symbol.is_assigned() or symbol.is_imported():
            binds.add(name)
        if symbol.is_referenced():
            needs.add(name)
    _scope_globals(table, needs)
    for child in table.get_children():
        for symbol in _walk_symbols(child):
            if symbol.is_declared_global() and symbol.is_assigned():
                binds.add(symbol.get_name())
    return binds, needs


def _walk_symbols(table: symtable.SymbolTable):
    yield from table.get_symbols()
    for child in table.get_children():
        yield from _walk_symbols(child)


@dataclass
class Unit:
    """One top-level statement of a locked or extra cell."""

    code: str
    binds: set[str]
    needs: set[str]
    star: bool = False
    kind: str = "value"  # what it binds: "import", "def" or "value"
    receivers: set[str] = field(default_factory=set)  # n.method(...), n[i] = v
    arguments: set[str] = field(default_factory=set)  # f(n), f(key=n)

    @property
    def deferred(self) -> bool:
        """A definition: the names it needs are looked up when it is called."""
        return self.kind == "def"


def _root(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _mutations(stmt: ast.stmt) -> tuple[set[str], set[str]]:
    """Names a statement may change in place: as the object of a method call
    or of an item/attribute assignment, and as an argument of a call."""
    receivers: set[str] = set()
    arguments: set[str] = set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute):
                receivers.add(_root(node.func.value))
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                if isinstance(arg, ast.Name):
                    arguments.add(arg.id)
        targets = []
        if isinstance(node, (ast.Assign, ast.Delete)):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for target in targets:
            if isinstance(target, (ast.Attribute, ast.Subscript)):
                receivers.add(_root(target))
    receivers.discard(None)
    return receivers, arguments


def _units(source: str) -> list[Unit]:
    try:
        tree = ast.parse(strip_magics(source))
    except SyntaxError:
        return []  # a cell that does not parse can define nothing
    units = []
    for stmt in tree.body:
        code = ast.unparse(stmt)
        found = names_of(code)
        if found is None:
            continue
        star = isinstance(stmt, ast.ImportFrom) and any(
            alias.name == "*" for alias in stmt.names
        )
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            kind, receivers, arguments = "import", set(), set()
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            kind, receivers, arguments = "def", set(), set()
        else:
            kind = "value"
            receivers, arguments = _mutations(stmt)
        units.append(
            Unit(
                code,
                *found,
                star=star,
                kind=kind,
                receivers=receivers,
                arguments=arguments,
            )
        )
    return units


def bindings_needed(units: Sequence[Unit], needed: set[str]) -> set[int]:
    """Indices of the units that bind (transitively) a needed name."""
    needed = set(needed)
    kept: set[int] = {i for i, u in enumerate(units) if u.star}
    for i in kept:
        needed |= units[i].needs
    changed = True
    while changed:
        changed = False
        for i, unit in enumerate(units):
            if i not in kept and unit.binds & needed:
                kept.add(i)
                needed |= unit.needs
                changed = True
    return kept


def _answer_needs(source: str) -> set[str]:
    """The names an answer cell reads from the rest of the notebook.

    A name the cell binds before it reads it (``d = f(x)`` then ``g(d)``) is
    its own: counting it would drag in every demo cell that happens to bind
    the same name, and everything those cells need.
    """
    needs: set[str] = set()
    bound: set[str] = set()
    for unit in _units(source):
        needs |= unit.needs - bound
        bound |= unit.binds
    return needs


def _slice_program(plan: list[tuple[str, str, object]]) -> set[int]:
    """Which locked/extra units (numbered in plan order) run in the child.

    A unit is kept if it binds a needed name (wherever it is), or if, before
    the last use of a needed value, it may change that value in place: a
    method call on it or an item/attribute assignment (``model.fit(...)``,
    ``params[0] = ...``), or, for an object a test cell grades directly,
    passing it to a function (``train(model, ...)``). Names bound only by
    imports or definitions are never "changed" (``np.random.seed(0)`` or
    ``plot(relu_forward)`` are not needed).
    """
    units: list[tuple[int, Unit]] = []  # (position, unit)
    last_use: dict[str, int] = {}
    value_names: set[str] = set()
    graded: set[str] = set()
    answers: list[set[str]] = []
    last_call = 0
    for position, (kind, _, item) in enumerate(plan):
        if kind in ("locked", "extra"):
            for unit in item:
                units.append((position, unit))
                if unit.kind == "value":
                    value_names |= unit.binds
        elif kind == "answer":
            answers.append(_answer_needs(item))
            for unit in _units(item):
                if unit.kind == "value":
                    value_names |= unit.binds
        else:
            last_call = position
            found = names_of(item.expr)
            for name in found[1] if found else ():
                last_use[name] = max(last_use.get(name, -1), position)
                graded.add(name)

    def use(names: Iterable[str], position: int) -> None:
        for name in names:
            last_use[name] = max(last_use.get(name, -1), position)

    for needs in answers:  # answer functions run when the calls run
        use(needs, last_call)
    graded &= value_names
    kept: set[int] = set()
    changed = True
    while changed:
        changed = False
        for index, (position, unit) in enumerate(units):
            if index in kept:
                continue
            if not (
                unit.star
                or unit.binds & last_use.keys()
                or any(
                    position < last_use.get(n, -1) for n in unit.receivers & value_names
                )
                or any(position < last_use.get(n, -1) for n in unit.arguments & graded)
            ):
                continue
            kept.add(index)
            use(unit.needs, last_call if unit.deferred else position)
            changed = True
    return kept


# ------------------------------------------------------- the source side


@dataclass(frozen=True)
class CallSpec:
    """One ``check(...)`` call of a test cell."""

    grade_id: str
    check: str
    expr: str
    hidden: bool

    @property
    def key(self) -> str:
        return f"{self.check}.{'hidden' if self.hidden else 'visible'}"


@dataclass
class GradeCellSpec:
    """A test cell: its points and the calls it makes (empty if unsupported)."""

    grade_id: str
    points: float
    calls: list[CallSpec]
    unsupported: str = ""  # why the trusted re-check cannot redo this cell
    answer_cells: list[str] = field(default_factory=list)


def _asserts(stmt: ast.stmt) -> bool:
    """Whether a statement tests something (so it is part of the grade)."""
    for node in ast.walk(stmt):
        if isinstance(node, (ast.Assert, ast.Raise)):
            return True
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", getattr(node.func, "attr", "")) or ""
            if "assert" in name.lower():
                return True
    return False


def _check_calls(source: str, assignment: str, grade_id: str):
    """``(calls, other statements, why unsupported)`` of a test cell.

    Statements other than ``check(...)`` calls (demos: a print of a worked
    example) are returned as code, to be sliced like locked cells; a test
    cell that asserts anything itself cannot be redone (``why``).
    """
    try:
        tree = ast.parse(strip_magics(source))
    except SyntaxError as err:
        return [], "", f"the test cell does not parse ({err.msg})"
    calls, other = [], []
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)) and all(
            a.name in ("check", "autograder.checks") for a in stmt.names
        ):
            continue
        found = read_check_call(stmt.value) if isinstance(stmt, ast.Expr) else None
        if found is not None:
            if found.problem or found.assignment != assignment:
                return [], "", "a check(...) call of an unexpected form"
            calls.append(CallSpec(grade_id, found.name, found.expr, found.hidden))
            continue
        if _asserts(stmt):
            return [], "", "the test cell asserts something itself"
        other.append(ast.unparse(stmt))
    if not calls:
        return [], "", "the test cell makes no check(...) call"
    return calls, "\n".join(other), ""


def imported_modules(cells) -> set[str]:
    """The modules code cells import (absolute imports, any depth)."""
    found: set[str] = set()
    for cell in cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(strip_magics(cell.source))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module)
    return found


class SourceNotebook:
    """The parts of a source notebook the trusted re-check needs."""

    def __init__(self, path: Path, assignment: str):
        self.path = Path(path)
        self.name = self.path.stem
        self.assignment = assignment
        self.raw = self.path.read_bytes()
        self.nb = nbformat.reads(self.raw.decode(), as_version=4)
        # Claim checks test the prose against the solution's own output;
        # they belong to no grade and would only slow the child down.
        self.cells = [cell for cell in self.nb.cells if not is_claim_check(cell)]
        self.answer_ids: list[str] = []
        self.grade_cells: dict[str, GradeCellSpec] = {}
        self.known_ids: set[str] = set()
        self._units: dict[int, list[Unit]] = {}
        for index, cell in enumerate(self.cells):
            cell_id = grade_id(cell)
            if cell_id:
                self.known_ids.add(cell_id)
            if cell.cell_type != "code":
                continue
            if is_answer(cell):
                self.answer_ids.append(cell_id)
            elif is_test(cell):
                calls, other, why = _check_calls(cell.source, assignment, cell_id)
                self.grade_cells[cell_id] = GradeCellSpec(
                    cell_id, points(cell), calls, why
                )
                self._units[index] = _units(other)
            else:
                self._units[index] = _units(cell.source)
        self._attach_answers()

    def _attach_answers(self) -> None:
        """Which answer cells define the functions each test cell calls."""
        defined: dict[str, list[str]] = {}
        previous = None
        nearest: dict[str, str | None] = {}
        for cell in self.cells:
            if cell.cell_type != "code":
                continue
            if is_answer(cell):
                previous = grade_id(cell)
                found = names_of(strip_magics(cell.source))
                for name in found[0] if found else ():
                    defined.setdefault(name, []).append(previous)
            elif is_test(cell):
                nearest[grade_id(cell)] = previous
        for test_id, spec in self.grade_cells.items():
            answers: list[str] = []
            for call in spec.calls:
                found = names_of(call.expr)
                for name in sorted(found[1]) if found else ():
                    for answer in defined.get(name, []):
                        if answer not in answers:
                            answers.append(answer)
            if not answers and nearest.get(test_id):
                answers.append(nearest[test_id])
            spec.answer_cells = answers

    @property
    def calls(self) -> list[CallSpec]:
        return [c for spec in self.grade_cells.values() for c in spec.calls]


# ------------------------------------------------------------ the program


@dataclass
class Step:
    """A step of the child program: a cell to execute or a graded call."""

    id: str
    kind: str  # protocol.CELL or protocol.CALL
    label: str
    code: str = ""  # cells
    call: CallSpec | None = None  # calls

    def for_child(self) -> protocol.ChildStep:
        """The step as the child receives it."""
        if self.kind == protocol.CELL:
            return protocol.ChildStep(self.id, self.kind, self.label, code=self.code)
        return protocol.ChildStep(
            self.id,
            self.kind,
            self.label,
            check=self.call.check,
            expr=self.call.expr,
            inputs=self.call.key,
        )


@dataclass
class Program:
    steps: list[Step]


def build_program(
    source: SourceNotebook,
    submitted,
    include: Callable[[CallSpec], bool] | None = None,
    prefix: str = "s",
) -> Program:
    """The steps the child runs for ``submitted`` (an nbformat notebook).

    ``include``: only the graded calls it accepts (e.g. the checks that need
    dlcore), and only the cells they and the answers need; the step ids
    start with ``prefix`` (the programs of one notebook do not share ids).
    """
    answers: dict[str, list[str]] = {}
    extras: dict[str | None, list[str]] = {}
    anchor = None
    for cell in submitted.cells if submitted is not None else []:
        if is_claim_check(cell):
            continue
        cell_id = grade_id(cell)
        if cell_id in source.known_ids:
            if cell_id in source.answer_ids and cell.cell_type == "code":
                answers.setdefault(cell_id, []).append(cell.source)
            anchor = cell_id  # the submission's copy of a locked cell: unused
        elif cell.cell_type == "code" and cell.source.strip():
            extras.setdefault(anchor, []).append(cell.source)

    # The plan, in source order: (kind, label, code or call) entries.
    plan: list[tuple[str, str, object]] = []
    for i, code in enumerate(extras.get(None, [])):
        plan.append(("extra", f"extra cell {i + 1} at the top", _units(code)))
    for index, cell in enumerate(source.cells):
        cell_id = grade_id(cell)
        if cell.cell_type == "code":
            if is_answer(cell):
                for code in answers.get(cell_id, []):
                    plan.append(("answer", f"answer {cell_id}", code))
            elif is_test(cell):
                plan.append(("locked", f"cell {cell_id}", source._units[index]))
                for call in source.grade_cells[cell_id].calls:
                    if include is None or include(call):
                        plan.append(("call", f"test {cell_id}", call))
            else:
                units = source._units[index]
                plan.append(("locked", f"cell {cell_id or index}", units))
        for i, code in enumerate(extras.get(cell_id, []) if cell_id else []):
            plan.append(("extra", f"extra cell {i + 1} after {cell_id}", _units(code)))

    # Slice the locked and extra cells by what the answers and calls need.
    kept = _slice_program(plan)

    steps: list[Step] = []
    position = 0
    for kind, label, item in plan:
        if kind in ("locked", "extra"):
            chosen = [u.code for j, u in enumerate(item, start=position) if j in kept]
            position += len(item)
            if chosen:
                code = "\n".join(chosen)
                steps.append(Step(f"{prefix}{len(steps)}", protocol.CELL, label, code))
        elif kind == "answer":
            code = strip_magics(item)
            steps.append(Step(f"{prefix}{len(steps)}", protocol.CELL, label, code))
        else:
            steps.append(Step(f"{prefix}{len(steps)}", protocol.CALL, label, call=item))
    return Program(steps)
