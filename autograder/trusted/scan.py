"""A static scan of submissions for code that tampers with grading.

It flags, it does not grade: the trusted re-check scores a submission the
same whatever the scan says, and the instructor reads the flags. Honest
course work (NumPy, dlcore, plots) raises none.

Rules (each flag names the cell, the line and what was seen):

``ipython``
    ``get_ipython``, input/AST transformers, IPython events or magics
    registered from code: the ways to rewrite the test cells nbgrader runs.
``numpy-patch``
    assignment, ``setattr`` or ``del`` on an attribute of NumPy
    (``np.allclose = ...``, ``np.testing.assert_allclose = ...``), or the
    global ``np``/``numpy`` rebound to something else than NumPy.
``sys-internals``
    ``sys.modules``, ``sys.meta_path``, ``sys.path_hooks``, tracing hooks,
    ``sys._getframe``, audit hooks.
``builtins``
    the ``builtins`` module or ``__builtins__``.
``autograder-path``
    imports of ``autograder``, or strings naming its files, the gradebook,
    the reference outputs, the course secret or its environment variables.
``withheld``
    a dlcore function the assignment withholds, imported or used.
``process``
    ``os._exit``, signals, ``os.kill``, subprocesses, ``ctypes``.
``introspection``
    closures, code objects, frames, ``gc`` walks: ways to reach the
    grader's own objects.
``dynamic-code``
    ``exec``, ``eval``, ``compile``, ``__import__``, ``importlib``.
``array-override``
    a class that subclasses ``ndarray`` or defines ``__array__``,
    ``__array_ufunc__``, ``__array_function__`` or ``__eq__``.
``locked-cell``
    a read-only cell whose text differs from the assignment's.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..source import grade_id, released_text, strip_magics

__all__ = ["Flag", "scan_code", "scan_notebook"]


@dataclass(frozen=True)
class Flag:
    where: str  # e.g. "answer relu_answer" or "extra cell 2"
    line: int
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.where}, line {self.line}: [{self.rule}] {self.detail}"


_IPYTHON_ATTRS = {
    "input_transformers_cleanup",
    "input_transformers_post",
    "input_transformer_manager",
    "ast_transformers",
    "register_magic_function",
    "register_cell_magic",
    "register_line_magic",
    "run_cell",
    "events",
    "set_custom_exc",
}
_SYS_ATTRS = {
    "modules",
    "meta_path",
    "path_hooks",
    "path_importer_cache",
    "settrace",
    "setprofile",
    "_getframe",
    "addaudithook",
    "excepthook",
    "displayhook",
}
_PROCESS = {
    ("os", "_exit"),
    ("os", "kill"),
    ("os", "killpg"),
    ("os", "fork"),
    ("os", "system"),
    ("os", "popen"),
    ("os", "execv"),
    ("os", "execve"),
    ("os", "abort"),
}
_PROCESS_MODULES = {"subprocess", "signal", "ctypes", "multiprocessing", "pty"}
_INTROSPECTION_ATTRS = {
    "__closure__",
    "__code__",
    "__globals__",
    "co_filename",
    "f_globals",
    "f_locals",
    "f_back",
    "gi_frame",
    "tb_frame",
}
_DYNAMIC_NAMES = {"exec", "eval", "compile", "__import__"}
_ARRAY_DUNDERS = {"__array__", "__array_ufunc__", "__array_function__", "__eq__"}
_SUSPICIOUS_TEXT = re.compile(
    r"autograder|gradebook|references|\bsecret\b|AUTOGRADER_|\.nbgrader|"
    r"nbgrader_config|solutions/",
    re.IGNORECASE,
)


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


class _Scanner(ast.NodeVisitor):
    def __init__(self, where: str, withheld: Iterable[str]):
        self.where = where
        self.flags: list[Flag] = []
        self.numpy = {"np", "numpy"}  # names bound to numpy (or a submodule)
        self.modules: dict[str, str] = {}  # local name -> module it names
        self.withheld = {w.rpartition(".")[2]: w for w in withheld}
        self.seen: set[tuple[int, str, str]] = set()

    def flag(self, node: ast.AST, rule: str, detail: str) -> None:
        line = getattr(node, "lineno", 0)
        key = (line, rule, detail)
        if key not in self.seen:
            self.seen.add(key)
            self.flags.append(Flag(self.where, line, rule, detail))

    # -- imports ---------------------------------------------------------

    def _bind(self, node, local: str, refers: str, imported: str) -> None:
        """``local`` now names ``refers``; ``imported`` is what was imported."""
        self.modules[local] = refers
        if refers.split(".")[0] == "numpy":
            self.numpy.add(local)
        else:
            self.numpy.discard(local)
        top = imported.split(".")[0]
        if top == "autograder":
            self.flag(node, "autograder-path", f"imports {imported}")
        if top == "builtins":
            self.flag(node, "builtins", f"imports {imported}")
        if top in _PROCESS_MODULES:
            self.flag(node, "process", f"imports {imported}")
        if top in ("importlib", "gc", "inspect"):
            rule = "dynamic-code" if top == "importlib" else "introspection"
            self.flag(node, rule, f"imports {imported}")
        if top == "IPython":
            self.flag(node, "ipython", f"imports {imported}")
        last = imported.rpartition(".")[2]
        if top == "dlcore" and last in self.withheld:
            self.flag(node, "withheld", f"imports {self.withheld[last]}")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self._bind(node, alias.asname, alias.name, alias.name)
            else:  # `import a.b` binds `a`
                top = alias.name.split(".")[0]
                self._bind(node, top, top, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        for alias in node.names:
            full = f"{module}.{alias.name}"
            self._bind(node, alias.asname or alias.name, full, full)

    # -- names and attributes --------------------------------------------

    def visit_Name(self, node: ast.Name) -> None:
        if node.id == "get_ipython":
            self.flag(node, "ipython", "get_ipython")
        elif node.id == "__builtins__":
            self.flag(node, "builtins", "__builtins__")
        elif node.id in _DYNAMIC_NAMES and isinstance(node.ctx, ast.Load):
            self.flag(node, "dynamic-code", node.id)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        dotted = _dotted(node) or ""
        base = dotted.split(".")[0] if dotted else ""
        module = self.modules.get(base, base)
        if node.attr in _IPYTHON_ATTRS and base not in self.numpy:
            self.flag(node, "ipython", dotted or node.attr)
        if module == "sys" and node.attr in _SYS_ATTRS:
            self.flag(node, "sys-internals", f"sys.{node.attr}")
        if (module.split(".")[0], node.attr) in _PROCESS:
            self.flag(node, "process", f"{module}.{node.attr}")
        if node.attr in _INTROSPECTION_ATTRS and base not in self.numpy:
            self.flag(node, "introspection", dotted or node.attr)
        if module.startswith("dlcore") and node.attr in self.withheld:
            self.flag(node, "withheld", self.withheld[node.attr])
        self.generic_visit(node)

    # -- assignments -----------------------------------------------------

    def _target(self, node: ast.AST, target: ast.AST) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._target(node, element)
            return
        if isinstance(target, ast.Starred):
            self._target(node, target.value)
            return
        if isinstance(target, ast.Attribute):
            dotted = _dotted(target)
            if dotted and dotted.split(".")[0] in self.numpy:
                self.flag(node, "numpy-patch", f"assigns {dotted}")
            return
        if isinstance(target, ast.Name) and target.id in self.numpy:
            value = getattr(node, "value", None)
            if not (value is not None and _dotted(value) in self.numpy):
                self.flag(node, "numpy-patch", f"rebinds {target.id}")

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._target(node, target)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._target(node, node.target)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._target(node, node.target)
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._target(node, target)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = _dotted(node.func) or ""
        if name in ("setattr", "delattr") and node.args:
            obj = _dotted(node.args[0]) or ""
            if obj.split(".")[0] in self.numpy:
                self.flag(node, "numpy-patch", f"{name}({obj}, ...)")
            if obj in ("builtins", "__builtins__"):
                self.flag(node, "builtins", f"{name}({obj}, ...)")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            match = _SUSPICIOUS_TEXT.search(node.value)
            if match:
                self.flag(node, "autograder-path", f"the string {node.value[:60]!r}")

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for base in node.bases:
            dotted = _dotted(base) or ""
            if dotted.split(".")[-1] == "ndarray":
                self.flag(node, "array-override", f"class {node.name}({dotted})")
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if item.name in _ARRAY_DUNDERS:
                    self.flag(item, "array-override", f"{node.name}.{item.name}")
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.generic_visit(node)


_FALLBACK = [
    (re.compile(r"get_ipython|input_transformers"), "ipython"),
    (re.compile(r"sys\s*\.\s*modules"), "sys-internals"),
    (re.compile(r"__builtins__|\bbuiltins\b"), "builtins"),
    (re.compile(r"\b(np|numpy)\s*\.\s*[\w.]+\s*=[^=]"), "numpy-patch"),
    (_SUSPICIOUS_TEXT, "autograder-path"),
]


def scan_code(code: str, where: str, withheld: Iterable[str] = ()) -> list[Flag]:
    """Flags for one cell of student code."""
    try:
        tree = ast.parse(strip_magics(code))
    except SyntaxError:
        flags = []
        for number, line in enumerate(code.splitlines(), start=1):
            for pattern, rule in _FALLBACK:
                if pattern.search(line):
                    flags.append(Flag(where, number, rule, line.strip()[:80]))
        return flags
    scanner = _Scanner(where, withheld)
    scanner.visit(tree)
    return scanner.flags


def scan_notebook(source, submitted, withheld: Iterable[str] = ()) -> list[Flag]:
    """Flags for the student-written cells of a submission.

    ``source`` is a :class:`~autograder.trusted.program.SourceNotebook`,
    ``submitted`` an nbformat notebook. Answer cells and cells the student
    added are scanned; a locked cell is flagged if its text was changed.
    """
    flags: list[Flag] = []
    withheld = list(withheld)
    source_text = {}
    for cell in source.cells:
        if grade_id(cell):
            source_text[grade_id(cell)] = released_text(cell.source)
    extra = 0
    for cell in submitted.cells:
        if cell.cell_type != "code":
            continue
        cell_id = grade_id(cell)
        if cell_id in source.answer_ids:
            flags += scan_code(cell.source, f"answer {cell_id}", withheld)
        elif cell_id in source_text:
            if released_text(cell.source) != source_text[cell_id]:
                flags.append(
                    Flag(
                        f"cell {cell_id}",
                        0,
                        "locked-cell",
                        "read-only cell changed (the source's version is graded)",
                    )
                )
        elif cell.source.strip():
            extra += 1
            flags += scan_code(cell.source, f"extra cell {extra}", withheld)
    return flags
