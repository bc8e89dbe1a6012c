"""What the solution keeps to itself never reaches the student's release.

* Every ``\\boxed{...}`` result in a solution notebook is the answer to a
  derivation the student makes: the same text appears nowhere in the release.
* Before its last graded cell, a release's prose never names a dlcore
  object the assignment withholds (the code a graded part asks for).
* Claim-check cells (``autograder.nbgrader_ext.CLAIM_CHECKS_TAG``) are
  dropped from the release, and only they.
"""

from __future__ import annotations

import re

import nbformat
import pytest
from fake_class import ASSIGNMENTS, ROOT
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.declarations import load_assignment
from autograder.nbgrader_ext import CLAIM_CHECKS_TAG, ClearClaimChecks
from autograder.source import nbgrader_meta


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


# ------------------------------------------------------- pointers at the reference


def _withheld_objects(assignment: str) -> set[str]:
    """The dotted names the assignment withholds, and for a withheld method
    (``dlcore.optim.SGD._update``) the class that owns it."""
    names = set(getattr(load_assignment(assignment), "WITHHELD", []))
    owners = {
        name.rsplit(".", 1)[0] for name in names if name.rsplit(".", 1)[1][0] == "_"
    }
    return names | owners


def _pointers(text: str, objects: set[str]) -> list[str]:
    return sorted(
        name for name in objects if re.search(re.escape(name) + r"(?![\w])", text)
    )


def test_pointers_finds_a_name_and_not_a_longer_one():
    objects = {"dlcore.init.lsuv", "dlcore.optim.SGD"}
    assert _pointers("use `dlcore.init.lsuv(model, x)`", objects) == [
        "dlcore.init.lsuv"
    ]
    assert _pointers("`dlcore.init.lsuv_scaled` and dlcore.optim.SGDW", objects) == []


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_prose_points_no_student_at_a_withheld_reference(assignment):
    """Before its last graded cell, a release's prose never names the dlcore
    object that a graded part asks the student to write: reading that code
    would replace the derivation the part grades."""
    cells = _read("notebooks", assignment).cells
    graded = [i for i, cell in enumerate(cells) if nbgrader_meta(cell).get("grade")]
    before_last = cells[: max(graded, default=-1) + 1]
    objects = _withheld_objects(assignment)
    pointing = {
        index: found
        for index, cell in enumerate(before_last)
        if cell.cell_type == "markdown" and (found := _pointers(cell.source, objects))
    }
    assert not pointing, f"{assignment}: cells name the reference {pointing}"
