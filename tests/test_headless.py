"""A half-done student notebook, executed headless outside nbgrader.

As a student or CI would with ``jupyter nbconvert --execute --allow-errors``:
plain nbclient, no Jupyter server, no ``NBGRADER_EXECUTION``. It happened
once that such a run waited for over ten minutes on an idle kernel. The
cause: a cell with ``ipywidgets.interact`` draws into an Output widget,
nbclient imitates that widget by sending on the kernel's shell channel
while it waits there for the cell's reply, and sometimes misses the reply
(jupyter/nbclient#312; reproduced here in 2 of 12 runs, each late by the
whole cell timeout, forever under nbconvert's default of none). The guard
is :func:`autograder.notebook.interactive_widgets`, which shows no control
where no Jupyter server started the kernel.

The notebook runs once (about 20 s). What shows a broken guard is
deterministic: a widget in a headless run's output. The hang it caused was
intermittent, so more runs would prove little more. A cell that hangs
fails loudly at the generous cell timeout instead of waiting forever, and
``pytest-timeout`` stops a run that hangs anywhere else.
"""

from __future__ import annotations

import shutil
import time

import nbformat
import pytest
from fake_class import ASSIGNMENTS, FIRST, ROOT, filled_release
from harness import CELL_SECONDS

from autograder.notebook import EDITOR_SESSION_ENV

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(FIRST not in ASSIGNMENTS, reason=f"runs {FIRST}'s release"),
]


def _half_done(assignment: str) -> nbformat.NotebookNode:
    """The release with its first half of answers filled in, the rest not."""
    release = nbformat.read(
        ROOT / "notebooks" / assignment / f"{assignment}.ipynb", as_version=4
    )
    filled = filled_release(ROOT, assignment)
    answers = [
        index
        for index, cell in enumerate(release.cells)
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution")
        and cell.cell_type == "code"
    ]
    for index in answers[: len(answers) // 2]:
        release.cells[index].source = filled.cells[index].source
    return release


@pytest.mark.timeout(CELL_SECONDS)
def test_half_done_release_runs_headless_without_hanging(tmp_path, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv(EDITOR_SESSION_ENV, raising=False)
    folder = tmp_path / FIRST
    shutil.copytree(ROOT / "notebooks" / FIRST, folder)
    nb = _half_done(FIRST)
    client = NotebookClient(
        nb,
        timeout=CELL_SECONDS,
        allow_errors=True,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    )
    start = time.perf_counter()
    client.execute()
    print(f"{FIRST} half done, headless in {time.perf_counter() - start:.1f} s")

    outputs = [
        (index, output)
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for output in cell.outputs
    ]
    errors = [
        (index, output.get("ename"))
        for index, output in outputs
        if output.get("output_type") == "error"
    ]
    assert errors, "nothing failed: is the second half of the answers filled in?"
    assert {name for _, name in errors} == {"NotImplementedError"}, errors
    widgets = [
        index for index, output in outputs if WIDGET_VIEW in output.get("data", {})
    ]
    assert not widgets, f"cells {widgets} displayed a widget in a headless run"
