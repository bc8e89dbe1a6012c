"""Every assignment's notebooks, executed headless (nbclient).

Parametrised over the folders of ``solutions/``, so a new assignment is
picked up without touching this file:

* the solution notebook runs without an error, every test cell (visible and
  hidden) passes nbgrader's Validator, and it runs in well under a minute;
* the student release runs with errors only where students must fill in
  (every error is the ``NotImplementedError`` of an unfilled answer);
* the notebook agrees with its check declarations (``autograder.lint``).

All notebooks are executed once per session, two at a time (the machine
has two cores), by nbconvert's executor (nbclient) in separate processes,
in kernels that see a private state directory with precomputed hidden
references.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = sorted(
    d.name
    for d in (ROOT / "solutions").iterdir()
    if d.is_dir() and any(d.glob("*.ipynb"))
)
if os.environ.get("PIPELINE_ASSIGNMENTS"):  # a subset, while developing one
    ASSIGNMENTS = [
        a for a in ASSIGNMENTS if a in os.environ["PIPELINE_ASSIGNMENTS"].split(",")
    ]
# "Well under a minute" on the CI machine, with a warm Numba cache.
MAX_SECONDS = 45

pytestmark = pytest.mark.slow


def _notebook(folder: str, assignment: str) -> Path:
    return ROOT / folder / assignment / f"{assignment}.ipynb"


def _execute(path: Path, allow_errors: bool, out_dir: Path):
    """Execute a notebook (nbconvert's nbclient-based executor, in its own
    process, the kernel in the notebook's folder); (notebook, seconds, error).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "nbconvert",
        "--to=notebook",
        "--execute",
        f"--output-dir={out_dir}",
        "--ExecutePreprocessor.timeout=300",
        "--ExecutePreprocessor.kernel_name=python3",
        str(path),
    ]
    if allow_errors:
        command.append("--allow-errors")
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    executed = out_dir / path.name
    if proc.returncode != 0 or not executed.is_file():
        return None, seconds, proc.stderr[-5000:]
    return nbformat.read(executed, as_version=4), seconds, None


@pytest.fixture(scope="session")
def executed(tmp_path_factory):
    """{(assignment, "solution" | "release"): (notebook, seconds, error)}."""
    from autograder import paths
    from autograder.checks import compute_references, load_assignment

    state = tmp_path_factory.mktemp("notebook-state")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUTOGRADER_STATE_DIR", str(state))
        if paths.numba_cache_dir() is not None:
            mp.setenv("NUMBA_CACHE_DIR", str(paths.numba_cache_dir()))
        for assignment in ASSIGNMENTS:
            try:
                load_assignment(assignment)
            except LookupError:
                continue
            compute_references(assignment)
        out = tmp_path_factory.mktemp("executed")
        jobs = {}
        for assignment in ASSIGNMENTS:
            jobs[(assignment, "solution")] = (
                _notebook("solutions", assignment),
                False,
                out / "solutions",
            )
            release = _notebook("notebooks", assignment)
            if release.is_file():
                jobs[(assignment, "release")] = (release, True, out / "notebooks")
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = {key: pool.submit(_execute, *job) for key, job in jobs.items()}
            results = {key: future.result() for key, future in futures.items()}
    return results


def _errors(nb) -> list[tuple[int, str, str]]:
    return [
        (index, output.get("ename", ""), output.get("evalue", ""))
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_runs_and_passes_the_validator(assignment, executed, tmp_path):
    from nbgrader.preprocessors import CheckCellMetadata
    from nbgrader.validator import Validator

    nb, seconds, error = executed[(assignment, "solution")]
    print(f"{assignment}: solution notebook executed in {seconds:.1f} s")
    assert error is None, error
    assert not _errors(nb)
    # nbgrader's verdict on the executed notebook (it does not re-execute).
    path = tmp_path / f"{assignment}.ipynb"
    nbformat.write(nb, path)
    validator = Validator()
    validator.preprocessors = [CheckCellMetadata]
    results = validator.validate(str(path))
    assert results == {}, results
    assert seconds < MAX_SECONDS, f"{assignment} took {seconds:.1f} s"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_fails_only_where_students_fill_in(assignment, executed):
    if (assignment, "release") not in executed:
        pytest.fail(
            f"notebooks/{assignment} missing: run `python -m autograder release`"
        )
    nb, seconds, error = executed[(assignment, "release")]
    print(f"{assignment}: student notebook executed in {seconds:.1f} s")
    assert error is None, error
    errors = _errors(nb)
    assert errors, "the untouched release raised nothing: are the answers stubbed?"
    unexpected = [e for e in errors if e[1] != "NotImplementedError"]
    assert not unexpected, (
        "errors other than the NotImplementedError of an unfilled answer "
        f"(cell index, type, message): {unexpected}"
    )
    # Every autograded test cell fails in the untouched release.
    failing = {index for index, _, _ in errors}
    for index, cell in enumerate(nb.cells):
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
            assert index in failing, f"test cell {index} passes without an answer"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_notebook_agrees_with_its_declarations(assignment):
    from autograder.lint import lint_assignment

    assert lint_assignment(ROOT, assignment) == []


def test_every_assignment_folder_has_one_notebook_named_after_it():
    for assignment in ASSIGNMENTS:
        notebooks = sorted(
            p.name for p in (ROOT / "solutions" / assignment).glob("*.ipynb")
        )
        assert notebooks == [f"{assignment}.ipynb"], (assignment, notebooks)
    assert os.path.isdir(ROOT / "autograder" / "assignments")
