"""What the trusted re-check's tests share (test_integrity.py, test_isolation.py,
test_harm.py): the assignment they grade (01_backprop) and its paths, the
re-check's limits, the adversarial corpus (tests/integrity_fixtures/corpus.py),
submissions built from the release, the points per part, and the gradebook
set up as nbgrader leaves it.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import subprocess
import sys
import warnings
from pathlib import Path

import nbformat
from fake_class import solution_answers
from harness import CELL_SECONDS, HANG_SECONDS

from autograder.trusted.sandbox import Limits

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "01_backprop"
SOURCE = ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
RELEASE = ROOT / "notebooks" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
# The hanging cases (an infinite loop, endless output) cost a step timeout
# each, so it is the short one: the re-check runs only graded code (answers
# and checks, milliseconds a step), never a demo. The rest is generous.
LIMITS = Limits(
    cpu_seconds=30,
    memory_bytes=1 << 30,
    step_seconds=HANG_SECONDS,
    attempt_seconds=CELL_SECONDS,
    notebook_seconds=2 * CELL_SECONDS,
)

_spec = importlib.util.spec_from_file_location(
    "integrity_corpus", Path(__file__).parent / "integrity_fixtures" / "corpus.py"
)
corpus = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = corpus  # dataclasses look their module up
_spec.loader.exec_module(corpus)
CASES = {case.name: case for case in corpus.CASES}


# ------------------------------------------------------------ submissions


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def cell_index(nb, grade_id: str) -> int:
    return next(
        i for i, c in enumerate(nb.cells) if _meta(c).get("grade_id") == grade_id
    )


@functools.cache
def dlcore_dirs() -> list[str]:
    """Where dlcore lives, for this process and for a ``python -I`` (the
    re-check's child), which may differ (an editable install)."""
    found = [str(Path(importlib.util.find_spec("dlcore").origin).parent)]
    proc = subprocess.run(
        [sys.executable, "-I", "-c", "import dlcore; print(dlcore.__file__)"],
        capture_output=True,
        text=True,
    )
    if proc.returncode == 0:
        found.append(str(Path(proc.stdout.strip()).parent))
    return list(dict.fromkeys(found))


def make_submission(case, references: str = "") -> nbformat.NotebookNode:
    """The release, filled in and then changed as ``case`` says."""
    nb = nbformat.read(RELEASE, as_version=4)
    answers = {} if case.unfilled else solution_answers(ASSIGNMENT)
    for grade_id, code in case.answers.items():
        code = code.replace("__REFERENCES__", references)
        answers[grade_id] = code.replace("__DLCORE__", repr(dlcore_dirs()))
    for grade_id, code in case.append.items():
        answers[grade_id] = answers[grade_id] + "\n" + code
    for cell in nb.cells:
        if _meta(cell).get("solution") and _meta(cell)["grade_id"] in answers:
            cell.source = answers[_meta(cell)["grade_id"]]
    for grade_id, text in case.edit.items():
        nb.cells[cell_index(nb, grade_id)].source = text
    for grade_id, text in case.duplicate.items():
        i = cell_index(nb, grade_id)
        copy = nbformat.from_dict(json.loads(json.dumps(nb.cells[i])))
        copy.source = text
        copy.pop("id", None)
        nb.cells.insert(i + 1, copy)
    for grade_id in case.retype:
        i = cell_index(nb, grade_id)
        old = nb.cells[i]
        nb.cells[i] = nbformat.v4.new_markdown_cell(old.source, metadata=old.metadata)
    for grade_id, code in case.extra:
        nb.cells.insert(cell_index(nb, grade_id) + 1, nbformat.v4.new_code_cell(code))
    for grade_id, text in case.markdown:
        nb.cells.insert(
            cell_index(nb, grade_id) + 1, nbformat.v4.new_markdown_cell(text)
        )
    for grade_id in case.delete:
        del nb.cells[cell_index(nb, grade_id)]
    # cells need unique ids in nbformat >= 4.5
    for k, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{k}"
    return nb


def part_points() -> dict[str, float]:
    """Points of each autograded part (written answers are graded by hand)."""
    source = nbformat.read(SOURCE, as_version=4)
    return {
        _meta(c)["grade_id"]: float(_meta(c)["points"])
        for c in source.cells
        if _meta(c).get("grade") and c.cell_type == "code"
    }


def autograded_scores(grades) -> dict[str, float]:
    """The scores of the autograded parts among a submission's grades."""
    return {g.name: g.score for g in grades if g.cell.cell_type == "code"}


def expected_parts(case) -> dict[str, float]:
    return {g: (0.0 if g in case.zero else p) for g, p in part_points().items()}


def register(db_url: str, students, auto_full: bool = True) -> None:
    """Gradebook records as nbgrader leaves them (every test cell passed)."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb, warnings.catch_warnings():
        # nbgrader 0.9 with SQLAlchemy 2 warns about its own session handling
        warnings.filterwarnings("ignore", message=r"Object of type <Submitted")
        for student in students:
            gb.update_or_create_student(student)
            submission = gb.add_submission(ASSIGNMENT, student)
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    grade.auto_score = grade.max_score if auto_full else 0.0
                    grade.needs_manual_grade = False
        gb.db.commit()


def release_into(db_url: str, folder: Path) -> None:
    """The pipeline's release step: the gradebook learns the assignment."""
    from autograder.pipeline import generate_release

    generate_release(ROOT, [ASSIGNMENT], folder, db_url=db_url)
