"""Declared demo cells: skipped under autograde, declared by the source, never guessed.

A solution notebook's heavy demonstrations (a training run, a sweep, a
plot) cost every autograded submission their full time, though no graded
cell needs them. The instructor declares such a cell by tagging it
:data:`~autograder.source.AUTOGRADE_SKIP_TAG` in ``solutions/``; under
``python -m autograder autograde`` (:class:`SkipDeclaredDemos`, added by
:class:`autograder.converters.SafeAutograde` right before execution) a
submission's cell is skipped only if

* it is a plain code cell (no nbgrader ``grade``, ``solution`` or ``task``
  role: an answer or a test cell always runs), and
* its source equals a tagged cell's source in the *source* notebook
  (trailing whitespace aside); the source's claim checks, which assert what
  the demos computed and never reach a release, are skipped the same way.

The submission's own tags and metadata decide nothing: a student who tags
an answer skips nothing, and a student's edited demo runs as written.

:func:`demo_problems` is the static side (``release`` refuses a notebook it
finds problems in, through :mod:`autograder.lint`): every tagged cell is a
plain code cell, and no later cell that still runs reads a name a tagged
cell binds or changes in place.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from .source import (
    AUTOGRADE_SKIP_TAG,
    has_tag,
    is_claim_check,
    nbgrader_meta,
    strip_magics,
)
from .trusted.program import names_of

__all__ = [
    "SKIPPED_SOURCE",
    "DemoDeclarationError",
    "is_plain_code",
    "normalized",
    "declared_demos",
    "skip_declared",
    "demo_problems",
    "SkipDeclaredDemos",
]

# What a skipped cell holds instead of its source (the feedback shows it).
SKIPPED_SOURCE = (
    f"# skipped under autograde: a declared demo ({AUTOGRADE_SKIP_TAG}); "
    "it runs in full in Jupyter"
)


class DemoDeclarationError(ValueError):
    """A source notebook tags a cell that may not be skipped."""


def is_plain_code(cell) -> bool:
    """A code cell with no nbgrader role (read-only locking is no role)."""
    meta = nbgrader_meta(cell)
    roles = ("grade", "solution", "task")
    return cell.get("cell_type") == "code" and not any(meta.get(r) for r in roles)


def normalized(source) -> str:
    """The source compared with the declared demos: trailing whitespace stripped."""
    return source.rstrip() if isinstance(source, str) else ""


def _tag_problem(cell, where: str, index: int) -> str:
    """Why a tagged cell may not be skipped ("" if it may)."""
    if is_plain_code(cell):
        return ""
    roles = {k: v for k, v in nbgrader_meta(cell).items() if k != "checksum"}
    return (
        f"{where} cell {index}: only a plain code cell may carry the "
        f"{AUTOGRADE_SKIP_TAG!r} tag; this is a {cell.get('cell_type')} cell "
        f"with nbgrader metadata {roles}"
    )


def declared_demos(nb, where: str) -> frozenset[str]:
    """The normalized sources a submission's cell is skipped for.

    The source notebook ``nb``'s tagged demos, and its claim checks
    (:data:`~autograder.source.CLAIM_CHECKS_TAG`): solution-only cells that
    no release holds, which assert what the demos computed. They reach an
    autograde run only when the solution itself is graded as a student
    (the test suite does), and are skipped there with the demos.

    Raises
    ------
    DemoDeclarationError
        If a tagged cell is not a plain code cell; the message names
        ``where`` (the notebook) and the cell.
    """
    found = set()
    for index, cell in enumerate(nb.cells):
        if is_claim_check(cell) and is_plain_code(cell):
            found.add(normalized(cell.source))
        if not has_tag(cell, AUTOGRADE_SKIP_TAG):
            continue
        problem = _tag_problem(cell, where, index)
        if problem:
            raise DemoDeclarationError(problem)
        found.add(normalized(cell.source))
    return frozenset(found)


def skip_declared(nb, demos: frozenset[str]) -> list[int]:
    """Skip ``nb``'s plain code cells whose source is in ``demos``, in place.

    Nothing else of the cell is read: its tags and metadata are the
    submission's. Returns the indices of the skipped cells.
    """
    skipped = []
    for index, cell in enumerate(nb.cells):
        if is_plain_code(cell) and normalized(cell.get("source")) in demos:
            cell.source = SKIPPED_SOURCE
            cell.outputs = []
            cell.execution_count = None
            skipped.append(index)
    return skipped


class SkipDeclaredDemos(NbGraderPreprocessor):
    """Skip a submission's copies of its source notebook's declared demos.

    The source notebook is ``<source_directory>/<assignment>/<notebook>.ipynb``
    (nbgrader's ``resources``). Runs after nbgrader's sanitizing steps (which
    restore every locked cell from the gradebook) and before ``Execute``.
    """

    source_directory = Unicode(
        "", help="The course's source folder (solutions/), absolute."
    ).tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        assignment, notebook = info["assignment"], info["notebook"]
        path = Path(self.source_directory) / assignment / f"{notebook}.ipynb"
        where = f"solutions/{assignment}/{notebook}.ipynb"
        demos = declared_demos(nbformat.read(path, as_version=4), where)
        skipped = skip_declared(nb, demos)
        if skipped:
            self.log.info("Skipped declared demo cells %s of %s", skipped, notebook)
        return nb, resources


# ------------------------------------------------------- the static check


def _parses(source: str) -> bool:
    try:
        ast.parse(strip_magics(source))
    except SyntaxError:
        return False
    return True


def _statements(source: str) -> list[ast.stmt]:
    try:
        return ast.parse(strip_magics(source)).body
    except SyntaxError:
        return []


def _root(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _changed_in_place(stmt: ast.stmt) -> set[str]:
    """Names a statement may change without rebinding them: ``n.method(...)``,
    ``n[i] = v``, ``n.attr = v`` (the root name ``n``). A method that only
    reads counts too: the check errs on the side of running a cell."""
    changed = set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            changed.add(_root(node.func.value))
        targets = []
        if isinstance(node, (ast.Assign, ast.Delete)):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        changed |= {
            _root(t) for t in targets if isinstance(t, (ast.Attribute, ast.Subscript))
        }
    changed.discard(None)
    return changed


class _FirstUse(ast.NodeVisitor):
    """The names a cell reads before it binds them, in evaluation order
    (``x = f(x)`` reads ``x``; ``for ax in axes`` does not read ``ax``)."""

    def __init__(self):
        self.bound: set[str] = set()
        self.reads: set[str] = set()

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load):
            if node.id not in self.bound:
                self.reads.add(node.id)
        else:
            self.bound.add(node.id)

    def _in_order(self, *parts):
        for part in parts:
            for node in part if isinstance(part, list) else [part]:
                if node is not None:
                    self.visit(node)

    def visit_Assign(self, node):
        self._in_order(node.value, node.targets)

    def visit_AnnAssign(self, node):
        self._in_order(node.value, node.target)

    def visit_AugAssign(self, node):
        if isinstance(node.target, ast.Name) and node.target.id not in self.bound:
            self.reads.add(node.target.id)
        self._in_order(node.value, node.target)

    def visit_NamedExpr(self, node):
        self._in_order(node.value, node.target)

    def visit_For(self, node):
        self._in_order(node.iter, node.target, node.body, node.orelse)

    visit_AsyncFor = visit_For

    def visit_comprehension(self, node):
        self._in_order(node.iter, node.target, node.ifs)

    def visit_ListComp(self, node):
        self._in_order(node.generators, node.elt)

    visit_SetComp = visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node):
        self._in_order(node.generators, node.key, node.value)

    def _scope(self, node):
        """A def, class or lambda: the globals it reads (when called, but
        counted now), then its name."""
        found = names_of(ast.unparse(node))
        if found is not None:
            self.reads |= found[1] - found[0] - self.bound
        if not isinstance(node, ast.Lambda):
            self.bound.add(node.name)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scope
    visit_Lambda = _scope

    def visit_Import(self, node):
        for alias in node.names:
            self.bound.add((alias.asname or alias.name).split(".")[0])

    visit_ImportFrom = visit_Import


def _effects(source: str) -> tuple[set[str], set[str], set[str]]:
    """``(binds, changes, reads)`` of a cell's top-level code.

    ``reads`` are the names it reads before binding them itself (a name the
    cell binds first is its own).
    """
    binds, changes, first_use = set(), set(), _FirstUse()
    for stmt in _statements(source):
        found = names_of(ast.unparse(stmt))
        if found is None:
            continue
        first_use.visit(stmt)
        binds |= found[0]
        if not isinstance(stmt, (ast.Import, ast.ImportFrom)):
            changes |= _changed_in_place(stmt)
    return binds, changes, first_use.reads


def _modules(nb) -> set[str]:
    """Names the notebook binds by an import (a demo's ``plt.plot`` changes
    no value a later cell reads)."""
    found = set()
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            for stmt in _statements(cell.source):
                if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                    found |= names_of(ast.unparse(stmt))[0]
    return found


def demo_problems(nb, where: str) -> list[str]:
    """What is wrong with a source notebook's declared demos (may be []).

    Every tagged cell must be a plain code cell, parse, and leave nothing a
    later cell that is not skipped reads: no name the tagged cell binds
    (assignments, ``def``, imports) or changes in place (``model.fit(...)``,
    ``d[k] = v``; modules aside) may be read by a later untagged code cell
    (answer, test or demo) before that cell binds it anew. Claim checks may:
    they are skipped too.
    """
    problems, modules = [], _modules(nb)
    demo_made: dict[str, int] = {}  # name -> the tagged cell that last made it
    for index, cell in enumerate(nb.cells):
        tagged = has_tag(cell, AUTOGRADE_SKIP_TAG)
        if tagged and _tag_problem(cell, where, index):
            problems.append(_tag_problem(cell, where, index))
            continue
        if cell.get("cell_type") != "code" or is_claim_check(cell):
            continue
        binds, changes, reads = _effects(cell.source)
        if tagged:
            if not _parses(cell.source):
                problems.append(f"{where} cell {index}: the tagged demo does not parse")
            demo_made.update(dict.fromkeys(binds | (changes - modules), index))
            continue
        used = sorted(reads & demo_made.keys())
        if used:
            made_in = sorted({demo_made[name] for name in used})
            problems.append(
                f"{where} cell {index} reads {', '.join(used)} from declared demo "
                f"cell(s) {made_in}, skipped under autograde: untag the demo"
            )
        for name in binds:
            demo_made.pop(name, None)
    return problems
