"""The isolation of the trusted re-check and of nbgrader's own kernels.

* The child cannot reach the course state, the solutions, the network, the
  grader or new processes; it holds none of dlcore's withheld definitions
  and cannot read dlcore's files (``withhold.remove`` deletes every route).
* The fork server: children are copies of a warm interpreter, a server that
  dies is replaced, ``warm=False`` starts fresh ones. (The cost per submission
  per notebook, target < 1 s, is measured by ``python -m benchmarks --only
  recheck``, not by a timed test.) A session made before autograde grades
  what was submitted.
* nbgrader's own (confined) kernels write only in their folder and read
  neither the course state nor solutions/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from harness import CELL_SECONDS
from integrity_support import (
    ASSIGNMENT,
    CASES,
    LIMITS,
    RELEASE,
    ROOT,
    SOURCE,
    cell_index,
    corpus,
    dlcore_dirs,
    make_submission,
)

from autograder.trusted import children, sandbox

# ------------------------------------------------------------- isolation

PROBE = """
import json, os, resource, socket, sys
result = {}
def attempt(name, action):
    try:
        action()
        result[name] = "allowed"
    except BaseException as err:
        result[name] = type(err).__name__
attempt("read_secret", lambda: open(SECRET).read())
attempt("list_state", lambda: os.listdir(os.path.dirname(SECRET)))
attempt("read_solutions", lambda: open(SOLUTIONS).read())
attempt("write_outside", lambda: open(OUTSIDE, "w").write("x"))
attempt("fork", os.fork)
attempt("kill_parent", lambda: os.kill(os.getppid(), 0))
attempt("kill_grader", lambda: os.kill(GRADER, 0))
def descriptors_beyond_the_pipes():
    found = []
    for fd in range(4, 256):
        try:
            os.fstat(fd)
            found.append(fd)
        except OSError:
            pass
    assert found, "none open"
attempt("inherited_descriptors", descriptors_beyond_the_pipes)
attempt("connect", lambda: socket.create_connection(("127.0.0.1", 9), timeout=1))
attempt("import_autograder", lambda: __import__("autograder.paths"))
attempt("write_home", lambda: open("scratch.txt", "w").write("ok"))
attempt("environment", lambda: [k for k in os.environ if "AUTOGRADER" in k] or 1 / 0)
unlimited = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
attempt("raise_cpu_limit", lambda: resource.setrlimit(resource.RLIMIT_CPU, unlimited))
attempt("exec", lambda: os.execv("/bin/true", ["true"]))
print(json.dumps(result))
"""


@pytest.mark.skipif(sandbox.LANDLOCK_ABI <= 0, reason="no Landlock on this kernel")
def test_the_child_cannot_reach_the_course_state(tmp_path, monkeypatch):
    from autograder.trusted.recheck import Session

    state = tmp_path / "state"
    monkeypatch.setenv("AUTOGRADER_STATE_DIR", str(state))
    monkeypatch.setenv("AUTOGRADER_SECRET_HINT", "visible to the parent only")
    session = Session(ROOT, ASSIGNMENT, limits=LIMITS)
    try:
        secret = state / "secret"
        assert secret.is_file()  # the hidden seeds were derived from it
        assert session.sandbox_report["landlock"].startswith("ABI")
        probe = PROBE.replace("SECRET", repr(str(secret)))
        probe = probe.replace("SOLUTIONS", repr(str(SOURCE)))
        probe = probe.replace("OUTSIDE", repr(str(tmp_path / "outside.txt")))
        probe = probe.replace("GRADER", str(os.getpid()))
        nb = make_submission(corpus.Case("probe", ""))
        # answer cells run whole: the probe runs with the student's code
        nb.cells[cell_index(nb, "perceptron_epoch_answer")].source += "\n" + probe
        path = tmp_path / "probe.ipynb"
        nbformat.write(nb, path)
        result = session.recheck_notebook(session.sources[0], path)
    finally:
        session.close()
    line = [x for x in result.stdout.splitlines() if x.startswith("{")][-1]
    seen = json.loads(line)
    assert seen.pop("write_home") == "allowed"
    assert not (tmp_path / "outside.txt").exists()
    assert all(v != "allowed" for v in seen.values()), seen
    assert result.score == result.max_score  # and grading went on as usual


REMOVAL_SCRIPT = """
import json, sys

import numpy as np

import dlcore.functional as F
import dlcore.layers as L
import dlcore.losses
from dlcore.layers import activations
from autograder import withhold

json._kept = F.tanh_forward  # held outside dlcore: must be found
removal = withhold.remove(
    [
        "dlcore.functional.relu_forward",
        "dlcore.functional.linear_forward",
        "dlcore.functional.maxpool2d_forward",
        "dlcore.functional.tanh_forward",
        "dlcore.losses.softmax_cross_entropy",
        "dlcore.autoencoder.KLSparsity",
        "dlcore.optim.SGD._update",
        "dlcore.nowhere.nothing",
    ]
)
routes = {
    "registry": lambda: activations._FUNCTIONS["relu"][0],
    "losses_get": lambda: dlcore.losses.get("softmax_cross_entropy"),
    "layer_method": lambda: L.Dense._linear_forward(
        None, np.ones((1, 1)), np.ones((1, 1)), np.ones(1)
    ),
    "class_tuple": lambda: L.MaxPool2D._functional[0],
    "class": lambda: __import__("dlcore.autoencoder").autoencoder.KLSparsity,
    "method": lambda: __import__("dlcore.optim").optim.SGD._update,
    "alias": lambda: F.relu_forward,
}
originals = {
    "relu_forward", "softmax_cross_entropy", "maxpool2d_forward", "KLSparsity",
    "SGD._update",
}
reached = []
for name, route in routes.items():
    try:
        found = route()
    except Exception:
        continue
    if isinstance(found, tuple) or getattr(found, "__qualname__", "") in originals:
        reached.append(name)  # a result computed, or the original itself
print(json.dumps({"removal": removal.as_dict(), "reached": reached}))
"""


def test_removal_deletes_every_route_and_finds_what_stays():
    """In a process of its own (the test process keeps its dlcore)."""
    proc = subprocess.run(
        [sys.executable, "-c", REMOVAL_SCRIPT],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout.splitlines()[-1])
    assert found["reached"] == []
    removal = found["removal"]
    assert removal["missing"] == ["dlcore.nowhere.nothing"]
    assert len(removal["removed"]) == 7
    # the one reference kept outside dlcore is reported: the child refuses
    assert len(removal["reachable"]) == 1
    assert "tanh_forward" in removal["reachable"][0]


# Run in both kinds of child (08_autoencoders has checks of each): what of
# dlcore each holds and can read.
DLCORE_PROBE = """
import gc, json, os, sys
seen = {"kind": "with" if "numba" in sys.modules else "without"}
for i, folder in enumerate(DLCORE):
    try:
        open(os.path.join(folder, "autoencoder.py")).read()
        seen[f"read_dlcore_{i}"] = "allowed"
    except BaseException as err:
        seen[f"read_dlcore_{i}"] = type(err).__name__
seen["loaded"] = sorted(
    m for m, mod in list(sys.modules.items())
    if m.startswith("dlcore") and getattr(mod, "__file__", None)
)[:3]
seen["withheld_found"] = sorted(
    {
        getattr(obj, "__name__", "")
        for obj in gc.get_objects()
        if getattr(obj, "__name__", "") in WITHHELD
        and str(getattr(obj, "__module__", "")).startswith("dlcore")
    }
)
print("PROBE", json.dumps(seen))
"""


@pytest.mark.skipif(sandbox.LANDLOCK_ABI <= 0, reason="no Landlock on this kernel")
def test_no_child_holds_or_reads_a_withheld_definition(tmp_path, monkeypatch):
    """08_autoencoders: the child without dlcore has none of it loaded; the
    one with dlcore has none of the withheld definitions (in any module,
    class or registry: gc finds none); neither can read dlcore's files."""
    from autograder import declarations
    from autograder.trusted.recheck import Session

    assignment = "08_autoencoders"
    monkeypatch.setenv("AUTOGRADER_STATE_DIR", str(tmp_path / "state"))
    withheld = declarations.load_assignment(assignment).WITHHELD
    source = ROOT / "solutions" / assignment / f"{assignment}.ipynb"
    nb = nbformat.read(source, as_version=4)
    probe = DLCORE_PROBE.replace("DLCORE", repr(dlcore_dirs()))
    probe = probe.replace("WITHHELD", repr({w.rpartition(".")[2] for w in withheld}))
    nb.cells[cell_index(nb, "tied-forward")].source += "\n" + probe
    path = tmp_path / f"{assignment}.ipynb"
    nbformat.write(nb, path)
    with Session(ROOT, assignment, limits=LIMITS) as session:
        assert session.kinds == [False, True]
        result = session.recheck_notebook(session.sources[0], path)
    seen = {
        s["kind"]: s
        for s in (
            json.loads(line.removeprefix("PROBE "))
            for line in result.stdout.splitlines()
            if line.startswith("PROBE ")
        )
    }
    assert sorted(seen) == ["with", "without"], result.stdout[-2000:]
    for kind, found in seen.items():
        reads = {k: v for k, v in found.items() if k.startswith("read_dlcore")}
        assert reads and "allowed" not in reads.values(), (kind, reads)
        assert found["withheld_found"] == [], (kind, found)
    assert seen["without"]["loaded"] == []
    assert seen["with"]["loaded"]  # dlcore is there, less what is withheld
    assert result.score == result.max_score  # an honest notebook keeps it all


def _solution_with(tmp_path: Path, extra: str, name: str) -> Path:
    """The solution, with ``extra`` run at the end of an answer cell."""
    nb = make_submission(CASES["solution"])
    nb.cells[cell_index(nb, "perceptron_epoch_answer")].source += "\n" + extra
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def test_children_fork_from_a_warm_server_that_outlives_them(tmp_path, monkeypatch):
    """Each child is a copy of the server: what one submission changes in
    NumPy or dlcore never reaches the next. A server that dies is started
    again, even while a child runs (that child is run again); sessions
    share it; with ``warm=False``, or if it cannot start, a session starts
    fresh interpreters."""
    import threading

    from autograder.trusted.recheck import Session

    monkeypatch.setenv("AUTOGRADER_STATE_DIR", str(tmp_path / "state"))
    vandal = _solution_with(
        tmp_path,
        "import dlcore.functional as F\n"
        "np.exp = np.tanh = np.maximum = np.dot = lambda *a, **k: 0\n"
        "F.relu_forward = F.sigmoid_forward = None",
        "vandal",
    )
    # Waits until the server is gone, so the server dies while it runs
    # however slow the machine (and runs straight through the second time).
    server_killed = tmp_path / "server-killed"
    slow = _solution_with(
        tmp_path,
        f"import os, time\nwhile not os.path.exists({str(server_killed)!r}):\n"
        "    time.sleep(0.05)",
        "slow",
    )
    with Session(ROOT, ASSIGNMENT, limits=LIMITS) as session:
        assert session.children.startswith("forked from a warm interpreter")
        source = session.sources[0]
        full = session.calibration[0].max_score
        vandalised = session.recheck_notebook(source, vandal)
        assert vandalised.score < full  # its own answers broke
        assert session.recheck_notebook(source, SOURCE).score == full

        first = session.server
        first.process.kill()
        first.process.wait()
        again = session.recheck_notebook(source, SOURCE)
        assert again.score == full and again.attempts == 1
        assert session.server is not first and session.server.alive

        second = session.server

        def kill_the_server():
            second.process.kill()
            server_killed.touch()

        threading.Timer(0.8, kill_the_server).start()
        lost = session.recheck_notebook(source, slow)
        assert lost.score == full and lost.attempts == 1, lost.events
        assert session.server is not second and session.server.alive
        third = session.server

    with Session(ROOT, ASSIGNMENT, limits=LIMITS) as session:
        assert session.server is third  # one server per process, shared

    with Session(ROOT, ASSIGNMENT, limits=LIMITS, warm=False) as session:
        assert session.children == "fresh interpreters" and session.server is None
        assert session.recheck_notebook(session.sources[0], RELEASE).score == 0

    monkeypatch.setattr(children, "_SERVERS", {})
    monkeypatch.setattr(children, "_SERVER_BOOT", "import sys; sys.exit('no warm-up')")
    with Session(ROOT, ASSIGNMENT, limits=LIMITS) as session:  # calibrates fresh
        assert session.children.startswith("fresh interpreters (the fork server did")
        assert "no warm-up" in session.children


def test_a_session_made_before_autograde_grades_what_was_submitted(
    tmp_path, monkeypatch
):
    """Files rewritten after the snapshot (e.g. by code in nbgrader's kernel)
    do not change the verdict."""
    from autograder.trusted import recheck_assignment
    from autograder.trusted.recheck import Session

    monkeypatch.setenv("AUTOGRADER_STATE_DIR", str(tmp_path / "state"))
    folder = tmp_path / "submitted" / "sam" / ASSIGNMENT
    folder.mkdir(parents=True)
    path = folder / f"{ASSIGNMENT}.ipynb"
    nbformat.write(make_submission(CASES["untouched"]), path)
    with Session(ROOT, ASSIGNMENT, limits=LIMITS) as session:
        assert session.snapshot(tmp_path / "submitted") == ["sam"]
        # ... nbgrader autograde runs here; something rewrites the file:
        nbformat.write(make_submission(CASES["solution"]), path)
        report = recheck_assignment(
            ROOT,
            ASSIGNMENT,
            submissions=tmp_path / "submitted",
            db_url=f"sqlite:///{tmp_path / 'none.db'}",
            write=False,
            out=None,
            session=session,
        )
    assert report.results["sam"].score == 0


# ------------------------------------------------- nbgrader's own kernels

KERNEL_PROBE = """
import json, os, socket
seen = {}
def attempt(name, action):
    try:
        action()
        seen[name] = "allowed"
    except Exception as err:
        seen[name] = type(err).__name__
attempt("write_here", lambda: open("here.txt", "w").write("ok"))
attempt("write_outside", lambda: open(OUTSIDE, "w").write("x"))
attempt("read_anything", lambda: open(READABLE).read())
attempt("read_secret", lambda: open(SECRET_FILE).read())
attempt("read_solutions", lambda: open(SOLUTIONS).read())
attempt("secret_in_env", lambda: os.environ["AUTOGRADER_SECRET"])
attempt("import_checks", lambda: __import__("autograder.checks"))
attempt("connect", lambda: socket.create_connection(("127.0.0.1", 9), timeout=1))
attempt("signal_grader", lambda: os.kill(os.getppid(), 0))
print(json.dumps(seen))
"""


@pytest.mark.skipif(sandbox.LANDLOCK_ABI < 6, reason="needs Landlock ABI 6")
def test_a_confined_kernel_writes_only_in_its_folder(tmp_path, monkeypatch):
    """...and reads neither the course state nor solutions/, although its
    own folder lies in the state directory (as nbgrader's autograded/)."""
    from nbclient import NotebookClient

    from autograder.trusted.kernel import ConfinedKernelManager

    state = tmp_path / "state"
    here, outside = state / "autograded" / "sam" / ASSIGNMENT, tmp_path / "gradebook"
    here.mkdir(parents=True)
    outside.mkdir()
    (outside / "gradebook.db").write_text("grades")
    (state / "secret").write_text("the course secret")
    monkeypatch.setenv("AUTOGRADER_STATE_DIR", str(state))
    monkeypatch.setenv("AUTOGRADER_SECRET", "the course secret")
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    code = KERNEL_PROBE.replace("OUTSIDE", repr(str(outside / "gradebook.db")))
    code = code.replace("READABLE", repr(str(outside / "gradebook.db")))
    code = code.replace("SECRET_FILE", repr(str(state / "secret")))
    code = code.replace("SOLUTIONS", repr(str(SOURCE)))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code)]
    client = NotebookClient(
        nb,
        timeout=CELL_SECONDS,
        kernel_manager_class=ConfinedKernelManager,
        resources={"metadata": {"path": str(here)}},
    )
    client.execute()
    seen = json.loads(nb.cells[0].outputs[-1]["text"].strip().splitlines()[-1])
    assert seen == {
        "write_here": "allowed",
        "write_outside": "PermissionError",
        "read_anything": "allowed",
        "read_secret": "PermissionError",
        "read_solutions": "PermissionError",
        "secret_in_env": "KeyError",
        "import_checks": "allowed",
        "connect": "PermissionError",
        "signal_grader": "PermissionError",
    }
    assert (outside / "gradebook.db").read_text() == "grades"


def test_readable_except_grants_everything_but_the_denied_folders(tmp_path):
    """The rules a confined kernel gets: all but the state (and what links
    into it), with only listing on the folders above it."""
    state = tmp_path / "course" / "state"
    (state / "autograded" / "sam").mkdir(parents=True)
    (state / "secret").write_text("s")
    (tmp_path / "course" / "notebooks").mkdir()
    (tmp_path / "other.txt").write_text("o")
    (tmp_path / "into_state").symlink_to(state)
    read, list_only = sandbox.readable_except([str(state), str(tmp_path / "none")])
    real = os.path.realpath
    assert real(tmp_path / "course" / "notebooks") in read
    assert real(tmp_path / "other.txt") in read
    assert not [p for p in read if p.startswith(real(state))], read
    assert real(tmp_path / "course") in list_only and "/" in list_only
    assert real(tmp_path / "course") not in read
    assert sandbox.readable_except([]) == (["/"], [])
