"""dlcore's shape, checked from its source: no import cycle, no module over
600 lines, no function over 80 lines outside the hand-unrolled kernels.

Imports are read with ``ast``, at module level *and* inside functions, so a
cycle hidden by an import inside a function is found too. A function's
length runs from its ``def`` (decorators included) to its last line,
without its docstring: a derivation in a docstring is what the library is
for, the limit is on the code.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from fresh_imports import packages_imported_after

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "dlcore"
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
# Hand-unrolled Numba loops: long by design (see dlcore/_kernels/__init__.py).
UNROLLED_KERNELS = ("_kernels",)


def module_names(package_dir: Path) -> dict[str, Path]:
    """``{dotted module name: file}`` for every ``.py`` file of the package."""
    names = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def _absolute(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    """The absolute name ``from <node.module>`` refers to inside ``module``."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]  # a module's relative imports start at its package
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imported_modules(module: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``module`` imports, wherever the import is."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(module, node, is_package)
            found.add(target)
            # `from package import name` imports the submodule `name` if any.
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in found if name in known and name != module}


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    modules = module_names(package_dir)
    known = set(modules)
    return {name: imported_modules(name, path, known) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as ``[a, b, ..., a]``, or None.

    A module importing its own package (``dlcore.layers.conv`` doing ``from
    . import base`` runs ``dlcore.layers`` first) is no cycle: Python
    initializes a package before its submodules, so the edge from a
    submodule up to an ancestor package is ignored.
    """
    state: dict[str, str] = {}  # "open" while on the path, then "done"
    path: list[str] = []

    def is_ancestor(a: str, b: str) -> bool:
        return b.startswith(a + ".")

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if is_ancestor(nxt, node):
                continue
            if state.get(nxt) == "open":
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start)
            if cycle:
                return cycle
    return None


def long_modules(package_dir: Path, limit: int = MAX_MODULE_LINES) -> list[str]:
    return [
        f"{path.relative_to(package_dir.parent)}: {n} lines"
        for path in sorted(package_dir.rglob("*.py"))
        if (n := len(path.read_text().splitlines())) > limit
    ]


def _code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    total = node.end_lineno - first + 1
    doc = node.body[0] if node.body else None
    if (
        isinstance(doc, ast.Expr)
        and isinstance(doc.value, ast.Constant)
        and isinstance(doc.value.value, str)
    ):
        total -= doc.end_lineno - doc.lineno + 1
    return total


def long_functions(
    package_dir: Path, limit: int = MAX_FUNCTION_LINES, exempt=UNROLLED_KERNELS
) -> list[str]:
    found = []
    for path in sorted(package_dir.rglob("*.py")):
        relative = path.relative_to(package_dir)
        if relative.parts[0] in exempt:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if (n := _code_lines(node)) > limit:
                    found.append(f"{relative}:{node.lineno} {node.name}: {n} lines")
    return found


def test_dlcore_has_no_import_cycle():
    cycle = find_cycle(import_graph(PACKAGE_DIR))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_dlcore_module_is_over_600_lines():
    assert long_modules(PACKAGE_DIR) == []


def test_no_dlcore_function_is_over_80_lines_outside_the_kernels():
    assert long_functions(PACKAGE_DIR) == []


# ------------------------------------------------ the checks can fail


@pytest.fixture
def bad_package(tmp_path):
    """A package with each fault the checks above look for."""
    root = tmp_path / "badpkg"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("from . import a\n")
    (root / "a.py").write_text("from .sub import b\n")
    # The cycle closes inside a function, the way one is usually hidden.
    (root / "sub" / "__init__.py").write_text("")
    (root / "sub" / "b.py").write_text(
        "def later():\n    from .. import a\n    return a\n"
    )
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    (root / "long.py").write_text(
        'def long():\n    """Docstring lines do not count."""\n' + body
    )
    (root / "huge.py").write_text("x = 0\n" * (MAX_MODULE_LINES + 1))
    return root


def test_the_checks_find_a_cycle_hidden_in_a_function(bad_package):
    cycle = find_cycle(import_graph(bad_package))
    assert cycle == ["badpkg.a", "badpkg.sub.b", "badpkg.a"]


def test_an_import_of_the_own_package_is_no_cycle(bad_package):
    (bad_package / "sub" / "b.py").write_text("from .. import sub\n")
    assert find_cycle(import_graph(bad_package)) is None


def test_the_checks_find_long_modules_and_functions(bad_package):
    assert long_modules(bad_package) == [
        f"badpkg/huge.py: {MAX_MODULE_LINES + 1} lines"
    ]
    assert long_functions(bad_package) == [
        f"long.py:1 long: {MAX_FUNCTION_LINES + 1} lines"
    ]
    assert long_functions(bad_package, exempt=("long.py",)) == []


# Every public module a notebook imports (the engines load on first use).
PUBLIC_MODULES = (
    "dlcore",
    "dlcore.autoencoder",
    "dlcore.callbacks",
    "dlcore.constraints",
    "dlcore.data",
    "dlcore.functional",
    "dlcore.gradcheck",
    "dlcore.init",
    "dlcore.layers",
    "dlcore.losses",
    "dlcore.model",
    "dlcore.optim",
    "dlcore.progress",
    "dlcore.regularizers",
)


def test_importing_dlcore_leaves_numba_to_the_first_convolution_or_pool():
    """Numba costs every kernel about 0.4 s of CPU to import; notebooks
    without convolutions or pooling never need it."""
    imports = "\n".join(f"import {name}" for name in PUBLIC_MODULES)
    assert "numba" not in packages_imported_after(imports)
    first_use = (
        "import numpy as np\nimport dlcore.functional as F\n"
        "F.maxpool2d_forward(np.ones((1, 1, 2, 2)), 2)"
    )
    assert "numba" in packages_imported_after(first_use)
