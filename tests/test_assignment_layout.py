"""The layout of the check declarations (autograder/AUTHORING.md, section 1).

Each assignment's declaration module holds what the trusted re-check's child
runs (every ``call`` and ``make_inputs``, cut out by their syntax tree); its
references module holds what only the parent computes. These tests fail when
a declaration can no longer be cut out, or when the harness would ship code
that needs the ``autograder`` package the child cannot read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.declarations import load_assignment
from autograder.trusted.harness import extract_harness

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_call_and_make_inputs_can_be_cut_out(assignment):
    module = load_assignment(assignment)
    names = [declared.name for declared in module.CHECKS]
    source = Path(module.__file__).read_text()
    harness, problems = extract_harness(source, names, build=names)
    assert problems == {}
    assert "autograder" not in harness


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_references_live_beside_the_declarations(assignment):
    module = load_assignment(assignment)
    references = ROOT / "autograder" / "assignments" / "references"
    assert Path(module.__file__).parent == references.parent
    assert (references / Path(module.__file__).name).is_file()


@pytest.mark.parametrize(
    "binding",
    [
        "from autograder.assignments.references.a99_demo import _helper",
        "from .references.a99_demo import _helper",
    ],
)
def test_a_call_that_needs_the_references_is_not_shipped(binding):
    source = f"""
{binding}
from autograder.declarations import Check

CHECKS = [Check(name="demo", points=1, make_inputs=dict, call=_helper)]
"""
    harness, problems = extract_harness(source, ["demo"])
    assert problems == {"demo": "its call needs the autograder package"}
    assert "references" not in harness
