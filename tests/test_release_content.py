"""What the solution keeps to itself never reaches the student's release.

* Every ``\\boxed{...}`` result in a solution notebook is the answer to a
  derivation the student makes: the same text appears nowhere in the release.
* Claim-check cells (``autograder.nbgrader_ext.CLAIM_CHECKS_TAG``) are
  dropped from the release, and only they.
"""

from __future__ import annotations

import re

import nbformat
import pytest
from course_run import ASSIGNMENTS, ROOT
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.nbgrader_ext import CLAIM_CHECKS_TAG, ClearClaimChecks


def _boxed(text: str) -> list[str]:
    """The contents of every ``\\boxed{...}`` in ``text`` (braces balanced)."""
    found = []
    for start in (m.end() for m in re.finditer(r"\\boxed\{", text)):
        depth, end = 1, start
        while end < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            end += 1
        found.append(text[start : end - 1])
    return found


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _read(folder: str, assignment: str):
    return nbformat.read(ROOT / folder / assignment / f"{assignment}.ipynb", 4)


def test_boxed_finds_nested_braces():
    assert _boxed(r"a $\boxed{\frac{1}{n}}$ and $\boxed{x}$") == [r"\frac{1}{n}", "x"]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_holds_no_boxed_result_of_the_solution(assignment):
    solution = "\n".join(cell.source for cell in _read("solutions", assignment).cells)
    release = _squeezed(
        "\n".join(cell.source for cell in _read("notebooks", assignment).cells)
    )
    leaked = [result for result in _boxed(solution) if _squeezed(result) in release]
    assert not leaked, f"{assignment}: the release shows the boxed answers {leaked}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_holds_no_claim_check_cell(assignment):
    tagged = [
        cell
        for cell in _read("notebooks", assignment).cells
        if CLAIM_CHECKS_TAG in cell.metadata.get("tags", [])
    ]
    assert not tagged, f"{assignment}: the release keeps {len(tagged)} claim checks"


def _claim_cell(**nbgrader):
    cell = new_code_cell("assert 0.23 < 0.5", metadata={"tags": [CLAIM_CHECKS_TAG]})
    if nbgrader:
        cell.metadata["nbgrader"] = nbgrader
    return cell


def test_clear_claim_checks_drops_only_tagged_cells():
    prose, code = new_markdown_cell("The std falls to 0.23."), new_code_cell("x = 1")
    nb = new_notebook(cells=[prose, _claim_cell(), code])
    released, _ = ClearClaimChecks().preprocess(nb, {})
    assert released.cells == [prose, code]


def test_clear_claim_checks_refuses_a_graded_claim_cell():
    nb = new_notebook(cells=[_claim_cell(grade=True, points=1)])
    with pytest.raises(RuntimeError, match="no nbgrader role"):
        ClearClaimChecks().preprocess(nb, {})
