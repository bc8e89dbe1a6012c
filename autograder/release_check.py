"""Is a generated release clean, and is the committed one up to date?

* :func:`release_problems`: what must never reach students (hidden files,
  solution or hidden-test markers, outputs) in a generated release folder;
* :func:`tree_differences`: how two folders differ (``release --check``
  compares a fresh release with the committed ``notebooks/``).
"""

from __future__ import annotations

import filecmp
from pathlib import Path

import nbformat

from .source import RELEASE_LEAKS, SOLUTION_MARKERS

__all__ = ["release_problems", "tree_differences"]


def release_problems(release_dir: Path, assignment: str) -> list[str]:
    """What is wrong with a generated release folder (empty list: nothing)."""
    problems = []
    folder = release_dir / assignment
    for path in sorted(folder.rglob("*")):
        if path.is_dir():
            continue
        rel = path.relative_to(release_dir)
        if path.suffix != ".ipynb":
            lowered = path.name.lower()
            if "hidden" in lowered or "reference" in lowered or "secret" in lowered:
                problems.append(f"{rel}: a hidden file was copied to the release")
            continue
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            for marker in RELEASE_LEAKS + SOLUTION_MARKERS:
                if marker in cell.source:
                    problems.append(f"{rel} cell {i}: contains {marker!r}")
            if cell.cell_type == "code" and (cell.outputs or cell.execution_count):
                problems.append(f"{rel} cell {i}: has outputs")
    return problems


def tree_differences(expected: Path, actual: Path) -> list[str]:
    """Files that differ between two folders (relative paths)."""
    differences = []

    def walk(cmp: filecmp.dircmp, prefix: str) -> None:
        for name in cmp.left_only:
            differences.append(f"{prefix}{name}: missing from the committed release")
        for name in cmp.right_only:
            differences.append(f"{prefix}{name}: not produced by the release command")
        for name in cmp.diff_files + cmp.funny_files:
            differences.append(f"{prefix}{name}: differs")
        for name, sub in cmp.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(filecmp.dircmp(expected, actual, ignore=[]), "")
    # dircmp compares shallowly (size and mtime first); confirm byte by byte.
    return [d for d in differences if not _same_bytes(d, expected, actual)]


def _same_bytes(difference: str, left: Path, right: Path) -> bool:
    name = difference.split(":")[0]
    if not difference.endswith(": differs"):
        return False
    return filecmp.cmp(left / name, right / name, shallow=False)
