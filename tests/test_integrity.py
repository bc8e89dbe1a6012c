"""The trusted re-check (autograder.trusted): a verdict student code cannot fake.

* The adversarial corpus (tests/integrity_fixtures/corpus.py) re-checked in
  one run, as after ``nbgrader autograde``, against a scratch gradebook in
  which nbgrader "gave" every submission full marks: each case gets its
  intended score per part, the honest ones keep full marks, nothing stops
  the others, the gradebook and its comments show the trusted verdict, and
  the static scan flags what it should (and nothing honest).
* The isolation itself: what the child process cannot do.
* A crash midway (SIGKILL) loses no recorded grade and resumes.
* End to end: a real ``python -m autograder autograde`` (nbgrader) that an
  input transformer fools, then the re-check, then the CSV export showing
  the trusted score (read from the shared course run, tests/course_run.py).
* The fork server: children are copies of a warm interpreter, a server that
  dies is replaced, ``warm=False`` starts fresh ones. (The cost per submission
  per notebook, target < 1 s, is measured by ``python -m benchmarks --only
  recheck``, not by a timed test.)
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import nbformat
import numpy as np
import pytest
from course_run import ASSIGNMENTS, INTERNALS_STUDENTS
from harness import CELL_SECONDS, HANG_SECONDS, announce

from autograder.trusted import children, codec, sandbox
from autograder.trusted.program import SourceNotebook, build_program
from autograder.trusted.sandbox import Limits

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "01_backprop"
SOURCE = ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
RELEASE = ROOT / "notebooks" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
SOLUTION_LINES = ("### BEGIN SOLUTION", "### END SOLUTION")
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


def _solution_answers() -> dict[str, str]:
    source = nbformat.read(SOURCE, as_version=4)
    return {
        _meta(c)["grade_id"]: "\n".join(
            line for line in c.source.splitlines() if line.strip() not in SOLUTION_LINES
        )
        for c in source.cells
        if _meta(c).get("solution")
    }


def _index(nb, grade_id: str) -> int:
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
    answers = {} if case.unfilled else _solution_answers()
    for grade_id, code in case.answers.items():
        code = code.replace("__REFERENCES__", references)
        answers[grade_id] = code.replace("__DLCORE__", repr(dlcore_dirs()))
    for grade_id, code in case.append.items():
        answers[grade_id] = answers[grade_id] + "\n" + code
    for cell in nb.cells:
        if _meta(cell).get("solution") and _meta(cell)["grade_id"] in answers:
            cell.source = answers[_meta(cell)["grade_id"]]
    for grade_id, text in case.edit.items():
        nb.cells[_index(nb, grade_id)].source = text
    for grade_id, text in case.duplicate.items():
        i = _index(nb, grade_id)
        copy = nbformat.from_dict(json.loads(json.dumps(nb.cells[i])))
        copy.source = text
        copy.pop("id", None)
        nb.cells.insert(i + 1, copy)
    for grade_id in case.retype:
        i = _index(nb, grade_id)
        old = nb.cells[i]
        nb.cells[i] = nbformat.v4.new_markdown_cell(old.source, metadata=old.metadata)
    for grade_id, code in case.extra:
        nb.cells.insert(_index(nb, grade_id) + 1, nbformat.v4.new_code_cell(code))
    for grade_id, text in case.markdown:
        nb.cells.insert(_index(nb, grade_id) + 1, nbformat.v4.new_markdown_cell(text))
    for grade_id in case.delete:
        del nb.cells[_index(nb, grade_id)]
    # cells need unique ids in nbformat >= 4.5
    for k, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{k}"
    return nb


def _points() -> dict[str, float]:
    """Points of each autograded part (written answers are graded by hand)."""
    source = nbformat.read(SOURCE, as_version=4)
    return {
        _meta(c)["grade_id"]: float(_meta(c)["points"])
        for c in source.cells
        if _meta(c).get("grade") and c.cell_type == "code"
    }


def _autograded(grades) -> dict[str, float]:
    """The scores of the autograded parts among a submission's grades."""
    return {g.name: g.score for g in grades if g.cell.cell_type == "code"}


def expected_parts(case) -> dict[str, float]:
    return {g: (0.0 if g in case.zero else p) for g, p in _points().items()}


def _register(db_url: str, students, auto_full: bool = True) -> None:
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


def _release_into(db_url: str, folder: Path) -> None:
    """The pipeline's release step: the gradebook learns the assignment."""
    from autograder.pipeline import generate_release

    generate_release(ROOT, [ASSIGNMENT], folder, db_url=db_url)


# -------------------------------------------------------- the corpus run


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory, pytestconfig):
    from autograder import checks
    from autograder.trusted import recheck_assignment

    announce(
        pytestconfig,
        f"trusted re-check of {len(CASES)} adversarial submissions (a minute "
        f"or two; two of them hang for {HANG_SECONDS} s on purpose)",
    )
    base = tmp_path_factory.mktemp("integrity")
    state = base / "state"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUTOGRADER_STATE_DIR", str(state))
        references = checks.compute_references(ASSIGNMENT)
        submissions = base / "submitted"
        for case in CASES.values():
            folder = submissions / case.name / ASSIGNMENT
            folder.mkdir(parents=True)
            nb = make_submission(case, references=str(references))
            nbformat.write(nb, folder / f"{ASSIGNMENT}.ipynb")
        db_url = f"sqlite:///{base / 'gradebook.db'}"
        _release_into(db_url, base / "release")
        _register(db_url, CASES)
        start = time.perf_counter()
        report = recheck_assignment(
            ROOT,
            ASSIGNMENT,
            submissions=submissions,
            db_url=db_url,
            state_dir=state,
            limits=LIMITS,
            out=None,
        )
        seconds = time.perf_counter() - start
    print(f"\nre-check of {len(CASES)} adversarial submissions: {seconds:.1f} s")
    print("\n".join(report.lines()))
    return {
        "report": report,
        "db_url": db_url,
        "state": state,
        "submissions": submissions,
    }


@pytest.mark.parametrize("answer", sorted(corpus.REACH_ROUTES))
def test_each_route_to_the_reference_works_where_dlcore_is_reachable(answer):
    """The routes of ``reaches_reference`` are real: with dlcore loaded and
    readable (this process), each passes its check; the re-check's zero for
    them (test_each_case_gets_its_intended_score) is its doing."""
    from autograder import checks

    grade = answer.removesuffix("_answer")
    calls = SourceNotebook(SOURCE, ASSIGNMENT).grade_cells[f"test_{grade}"].calls
    namespace = {"np": np, "__name__": "student"}
    code = corpus.REACH_ROUTES[answer].replace("__DLCORE__", repr(dlcore_dirs()))
    exec(compile(code, answer, "exec"), namespace)
    for call in (c for c in calls if not c.hidden):
        fn = eval(call.expr, namespace)
        declared = checks.get_check(ASSIGNMENT, call.check)
        assert (
            checks.run_check(declared, fn, checks.visible_seed(ASSIGNMENT, call.check))
            is None
        )


@pytest.mark.parametrize("name", list(CASES))
def test_each_case_gets_its_intended_score(corpus_run, name):
    case = CASES[name]
    if name == "reads_references" and sandbox.LANDLOCK_ABI <= 0:
        pytest.skip("the kernel offers no Landlock: files cannot be hidden")
    report = corpus_run["report"]
    assert name in report.results, report.failed.get(name)
    result = report.results[name]
    assert result.parts() == expected_parts(case), (
        case.about,
        [p.messages for nb in result.notebooks for p in nb.parts.values()],
        [nb.events for nb in result.notebooks],
    )


@pytest.mark.parametrize("name", list(CASES))
def test_scan_flags_what_it_should_and_nothing_honest(corpus_run, name):
    case = CASES[name]
    flags = {flag.rule for flag in corpus_run["report"].results[name].flags}
    assert case.flags <= flags, (case.flags, flags)
    if not case.flags:
        assert not flags, [str(f) for f in corpus_run["report"].results[name].flags]


def test_no_submission_stops_the_others(corpus_run):
    report = corpus_run["report"]
    assert not report.failed
    assert sorted(report.results) == sorted(CASES)
    events = {
        name: [e for nb in r.notebooks for e in nb.events]
        for name, r in report.results.items()
    }
    # the hangs and exits were each isolated to their own step
    assert any("did not finish within" in e for e in events["infinite_loop"])
    assert any("exit status 1" in e for e in events["process_exit"])
    assert any("exit status 3" in e for e in events["process_exit"])
    assert any("did not finish within" in e for e in events["output_flood"])
    assert not events["solution"] and not events["honest_extra_cells"]
    flood = report.results["output_flood"].notebooks[0]
    assert len(flood.stdout) <= LIMITS.output_bytes
    adaline = report.results["process_exit"].notebooks[0].parts["test_adaline_epoch"]
    assert "adaline_epoch_answer ended the process" in adaline.messages[0]


def test_gradebook_shows_the_trusted_verdict_with_a_comment(corpus_run):
    from nbgrader.api import Gradebook

    report = corpus_run["report"]
    # nbgrader "gave" everyone full marks: every case with a zero changed
    changed = sorted(n for n, c in CASES.items() if c.zero)
    if sandbox.LANDLOCK_ABI <= 0:
        changed.remove("reads_references")
    assert report.changed_students == changed
    with Gradebook(corpus_run["db_url"]) as gb:
        for name in changed:
            case = CASES[name]
            submission = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, name)
            scores = _autograded(submission.grades)
            assert scores == expected_parts(case)
        sigmoid = gb.find_comment(
            "sigmoid_answer", ASSIGNMENT, ASSIGNMENT, "patched_allclose"
        )
        text = sigmoid.manual_comment
        assert text.startswith("[trusted re-check] test_sigmoid: 0 / 1")
        assert "check 'sigmoid' (visible test): out: wrong values" in text
        solution = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, "solution")
        assert sum(_autograded(solution.grades).values()) == sum(_points().values())
        untouched = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, "untouched")
        assert sum(_autograded(untouched.grades).values()) == 0
    lines = "\n".join(report.lines())
    assert "grades changed by the trusted re-check" in lines


def test_no_text_from_the_child_carries_hidden_inputs(corpus_run, monkeypatch):
    """The child held the hidden inputs while it ran the visible calls: what
    its code raised or returned there reaches the comment as a category."""
    from nbgrader.api import Gradebook

    from autograder import checks

    monkeypatch.setenv("AUTOGRADER_STATE_DIR", str(corpus_run["state"]))
    hidden = checks.get_check(ASSIGNMENT, "tanh").inputs(
        checks.hidden_seed(ASSIGNMENT, "tanh")
    )
    values = [
        repr(float(v))[:8]
        for array in hidden.values()
        for v in np.ravel(array)[:4]
        if abs(v) > 1e-3
    ]
    with Gradebook(corpus_run["db_url"]) as gb:
        comment = gb.find_comment(
            "tanh_answer", ASSIGNMENT, ASSIGNMENT, "leaks_hidden_inputs"
        ).manual_comment
    assert "check 'tanh' (visible test): your code raised ValueError" in comment
    assert "hidden inputs" not in comment, comment
    assert values and not [v for v in values if v in comment], comment
    # the process's own exit status (chosen by student code) is not told
    forged = corpus_run["report"].results["forged_status"].notebooks[0]
    message = forged.parts["test_perceptron_epoch"].messages[0]
    assert "ended the process and was left out" in message and "71" not in message


def test_a_second_run_skips_everyone_and_changes_nothing(corpus_run, monkeypatch):
    from nbgrader.api import Gradebook

    from autograder.trusted import recheck_assignment
    from autograder.trusted.results import load_state

    def scores():
        with Gradebook(corpus_run["db_url"]) as gb:
            return {name: gb.find_submission(ASSIGNMENT, name).score for name in CASES}

    before = scores()
    state = load_state(corpus_run["state"], ASSIGNMENT)["students"]
    assert sorted(state) == sorted(CASES)
    assert all(entry["status"] == "done" for entry in state.values())
    monkeypatch.setenv("AUTOGRADER_STATE_DIR", str(corpus_run["state"]))
    report = recheck_assignment(
        ROOT,
        ASSIGNMENT,
        submissions=corpus_run["submissions"],
        db_url=corpus_run["db_url"],
        limits=LIMITS,
        out=None,
    )
    assert sorted(report.skipped) == sorted(CASES) and not report.results
    assert scores() == before


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
        nb.cells[_index(nb, "perceptron_epoch_answer")].source += "\n" + probe
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
    nb.cells[_index(nb, "tied-forward")].source += "\n" + probe
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
    nb.cells[_index(nb, "perceptron_epoch_answer")].source += "\n" + extra
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


# ------------------------------------------------------------ resumable


def test_a_crash_midway_loses_nothing_and_resumes(tmp_path, monkeypatch):
    """SIGKILL the re-check after its first student, then run it again."""
    from nbgrader.api import Gradebook

    from autograder.trusted import recheck_assignment
    from autograder.trusted.results import load_state

    state = tmp_path / "state"
    submissions = tmp_path / "submitted"
    # sorted order: a (changes a grade), b (hangs: the crash comes here), c
    students = {
        "a_patched": CASES["patched_allclose"],
        "b_looper": CASES["infinite_loop"],
        "c_solution": CASES["solution"],
    }
    for student, case in students.items():
        folder = submissions / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(make_submission(case), folder / f"{ASSIGNMENT}.ipynb")
    db_url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    _release_into(db_url, tmp_path / "release")
    _register(db_url, students)
    env = dict(os.environ, AUTOGRADER_STATE_DIR=str(state))
    script = textwrap.dedent(
        f"""
        from autograder.trusted import recheck_assignment
        from autograder.trusted.sandbox import Limits
        recheck_assignment({str(ROOT)!r}, {ASSIGNMENT!r},
                           submissions={str(submissions)!r}, db_url={db_url!r},
                           limits=Limits(step_seconds={CELL_SECONDS}), out=None)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=tmp_path)
    state_file = state / "trusted" / f"{ASSIGNMENT}.json"
    deadline = time.monotonic() + CELL_SECONDS
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if state_file.is_file() and "a_patched" in state_file.read_text():
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)  # the crash
    finally:
        proc.wait()
    done = load_state(state, ASSIGNMENT)["students"]
    assert sorted(done) == ["a_patched"], "the crash came too late to test resuming"
    with Gradebook(db_url) as gb:  # what was recorded before the crash is there
        grades = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, "a_patched")
        scores = _autograded(grades.grades)
    assert scores == expected_parts(CASES["patched_allclose"])

    monkeypatch.setenv("AUTOGRADER_STATE_DIR", str(state))
    report = recheck_assignment(
        ROOT,
        ASSIGNMENT,
        submissions=submissions,
        db_url=db_url,
        limits=LIMITS,
        out=None,
    )
    assert report.skipped == ["a_patched"]
    assert sorted(report.results) == ["b_looper", "c_solution"]
    with Gradebook(db_url) as gb:
        for student, case in students.items():
            nb = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
            assert _autograded(nb.grades) == expected_parts(case)
    assert sorted(load_state(state, ASSIGNMENT)["students"]) == sorted(students)


# ------------------------------------------------------------ end to end


@pytest.mark.slow
@pytest.mark.skipif(
    ASSIGNMENT not in ASSIGNMENTS, reason=f"the shared run grades no {ASSIGNMENT}"
)
def test_end_to_end_nbgrader_is_fooled_the_trusted_verdict_is_not(graded):
    """Real ``autograde`` (nbgrader, then the re-check), then the CSV export.

    Read from the shared course run (tests/course_run.py), whose student
    ``mallory`` is the corpus's input transformer: nothing implemented, and
    every test cell turned into ``pass`` in nbgrader's kernel.
    """
    from nbgrader.api import Gradebook

    state = graded["states"][ASSIGNMENT]
    db_url = f"sqlite:///{state / 'gradebook.db'}"

    def in_kernel(student):  # nbgrader's own verdict, whatever came after
        with Gradebook(db_url) as gb:
            nb = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
            return sum(grade.auto_score or 0 for grade in nb.grades)

    full = sum(_points().values())
    assert in_kernel("mallory") == full  # the hole: nbgrader believes mallory
    assert in_kernel("solution") == full

    code, out = graded["autograde"][ASSIGNMENT]
    changed = next(line for line in out.splitlines() if "grades changed by" in line)
    assert "mallory" in changed and "solution" not in changed, out
    flags = [line for line in out.splitlines() if line.startswith("  mallory: ")]
    assert flags and all("[ipython]" in line for line in flags), out

    with open(state / "grades.csv", newline="") as fh:
        rows = {
            r["student_id"]: r
            for r in csv.DictReader(fh)
            if r["assignment"] == ASSIGNMENT
        }
    assert float(rows["mallory"]["score"]) == 0
    assert float(rows["solution"]["score"]) == full
    with Gradebook(db_url) as gb:
        comment = gb.find_comment("relu_answer", ASSIGNMENT, ASSIGNMENT, "mallory")
        assert "[trusted re-check] test_relu: 0 / 1" in comment.manual_comment
        assert "the tests in the notebook's kernel gave 1" in comment.manual_comment


# ------------------------------------- no submission harms another (issue 16)


def _course_parts(graded, student) -> dict[str, float]:
    from autograder.gradebook import submission_scores

    state = graded["states"][ASSIGNMENT]
    scores = submission_scores(
        f"sqlite:///{state / 'gradebook.db'}", ASSIGNMENT, student
    )
    autograded = _points()
    return {name: score for name, (score, _) in scores[2].items() if name in autograded}


def _graded_parts(graded, assignment: str, student: str) -> dict[str, float]:
    """Score of each autograded part of a submission in the shared run."""
    from autograder.gradebook import submission_scores

    state = graded["states"][assignment]
    scores = submission_scores(
        f"sqlite:///{state / 'gradebook.db'}", assignment, student
    )
    source = SourceNotebook(
        ROOT / "solutions" / assignment / f"{assignment}.ipynb", assignment
    )
    return {
        name: score
        for name, (score, _) in scores[2].items()
        if name in source.grade_cells
    }


def _tests_of(assignment: str, answers) -> set[str]:
    """The test cells that grade the answer cells ``answers``."""
    source = SourceNotebook(
        ROOT / "solutions" / assignment / f"{assignment}.ipynb", assignment
    )
    return {
        test
        for test, spec in source.grade_cells.items()
        if set(spec.answer_cells) & set(answers)
    }


@pytest.mark.parametrize(
    ("assignment", "answer"),
    [(a, answer) for a, _, routes, _ in INTERNALS_STUDENTS for answer in routes],
)
def test_each_internals_route_works_where_dlcore_is_reachable(assignment, answer):
    """The answers of the shared run's ``internals`` students are real
    routes: with dlcore loaded and readable (this process), each passes."""
    from autograder import checks

    routes = next(r for a, _, r, _ in INTERNALS_STUDENTS if a == assignment)
    source = SourceNotebook(
        ROOT / "solutions" / assignment / f"{assignment}.ipynb", assignment
    )
    namespace = {"np": np, "__name__": "student"}
    exec(compile(routes[answer], answer, "exec"), namespace)
    (test,) = _tests_of(assignment, [answer])
    for call in (c for c in source.grade_cells[test].calls if not c.hidden):
        declared = checks.get_check(assignment, call.check)
        seed = checks.visible_seed(assignment, call.check)
        fn = eval(call.expr, namespace)
        assert checks.run_check(declared, fn, seed) is None


@pytest.mark.slow
@pytest.mark.parametrize(
    ("assignment", "student", "routes", "honest"), INTERNALS_STUDENTS
)
def test_answers_from_dlcore_internals_score_zero(
    graded, assignment, student, routes, honest
):
    """03: an optimizer's ``_update`` and ``EarlyStopping``; 07: dlcore's
    cross-entropy inside the smoothed loss. Each such part scores zero, the
    honest answer keeps its points, and the solution graded in the same run
    keeps full marks."""
    if assignment not in ASSIGNMENTS:
        pytest.skip(f"no {assignment} in the shared run")
    parts = _graded_parts(graded, assignment, student)
    full = _graded_parts(graded, assignment, "solution")
    kept = _tests_of(assignment, honest)
    assert kept and not kept & _tests_of(assignment, routes)
    assert parts == {t: (full[t] if t in kept else 0.0) for t in full}, parts
    assert all(score > 0 for score in full.values()), full


def _only(**full) -> dict[str, float]:
    """Every part of 01 zero but those given."""
    return dict(dict.fromkeys(corpus.ALL_PARTS, 0.0), **full)


def _printed(notebook: Path) -> str:
    """What the executed notebook's code cells printed."""
    nb = nbformat.read(notebook, as_version=4)
    return "".join(
        output.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )


def _manual(graded) -> dict[str, str]:
    state = graded["states"][ASSIGNMENT]
    return json.loads((state / "needs_manual_grading.json").read_text())[ASSIGNMENT]


@pytest.mark.slow
@pytest.mark.skipif(ASSIGNMENT not in ASSIGNMENTS, reason="no 01 in the shared run")
def test_a_forged_exit_status_is_the_submissions_own_problem(graded):
    """``forger`` ends the re-check's child with the runner's "no sandbox"
    status: its own part scores zero, nobody else's grading changes."""
    assert _course_parts(graded, "forger") == _only(test_relu=1)
    code, out = graded["autograde"][ASSIGNMENT]
    # on the manual list for its code only (the static scan: os._exit),
    # never for a sandbox the grader would have failed to apply
    reason = _manual(graded)["forger"]
    assert reason.startswith("suspicious code (static scan") and "os._exit" in reason
    assert "sandbox" not in reason and "re-check failed" not in reason, reason
    assert "NOT RE-CHECKED" not in out and "trusted re-check failed" not in out, out
    # the others were re-checked after it (snooper's hidden test was scored)
    assert _course_parts(graded, "snooper")["test_tanh"] == 0


@pytest.mark.slow
@pytest.mark.skipif(ASSIGNMENT not in ASSIGNMENTS, reason="no 01 in the shared run")
def test_malformed_metadata_puts_that_submission_on_the_manual_list(graded):
    reason = _manual(graded)["malformed"]
    assert "'test_sigmoid' deleted" in reason and "'test_tanh' deleted" in reason
    assert "AttributeError" in reason, reason  # what stopped nbgrader
    # the trusted re-check takes the test cells from the source: relu counts
    assert _course_parts(graded, "malformed") == _only(test_relu=1)
    for proc in graded["export"]:
        assert proc.returncode == 0, proc.stderr


@pytest.mark.slow
@pytest.mark.skipif(ASSIGNMENT not in ASSIGNMENTS, reason="no 01 in the shared run")
def test_links_planted_by_a_kernel_clobber_and_leak_nothing(graded):
    """``vandal``'s kernel swapped its notebook for a link to the gradebook
    and left a link to the secret and a FIFO for the feedback."""
    state = graded["states"][ASSIGNMENT]
    secret = (state / "secret").read_text().strip()
    folder = state / "autograded" / "vandal" / ASSIGNMENT
    notebook = folder / f"{ASSIGNMENT}.ipynb"
    # the write-back replaced the link instead of writing through it
    assert notebook.is_file() and not notebook.is_symlink()
    printed = _printed(notebook)
    assert "VANDAL environ" in printed, printed  # its code ran to the end
    assert "VANDAL link" not in printed and "VANDAL swap" not in printed, printed
    assert (folder / "leak.txt").is_symlink()  # the attack did happen
    # the gradebook survived: everyone is in the export, scored as intended
    with open(state / "grades.csv", newline="") as fh:
        rows = {
            r["student_id"]: r
            for r in csv.DictReader(fh)
            if r["assignment"] == ASSIGNMENT
        }
    students = {s for s, given in graded["students"].items() if ASSIGNMENT in given}
    assert students <= set(rows)
    assert _course_parts(graded, "vandal") == _only(test_relu=1)
    assert float(rows["solution"]["score"]) == sum(_points().values())
    assert "leak.txt, pipe.txt" in _manual(graded)["vandal"]
    # the feedback copied regular files only: no link, no secret
    feedback = state / "feedback" / "vandal" / ASSIGNMENT
    # (nbgrader also hands back the submission's timestamp.txt)
    copied = sorted(p.name for p in feedback.iterdir())
    assert copied == [f"{ASSIGNMENT}.html", "timestamp.txt"], copied
    assert not [p for p in feedback.iterdir() if p.is_symlink() or not p.is_file()]
    for page in (state / "feedback").rglob("*"):
        if page.is_file():
            assert secret not in page.read_text(errors="replace"), page


@pytest.mark.slow
@pytest.mark.skipif(ASSIGNMENT not in ASSIGNMENTS, reason="no 01 in the shared run")
def test_no_environment_above_a_kernel_holds_the_secret(graded):
    """``vandal`` read /proc/<pid>/environ of every process above its kernel
    (the grader's included); the state is the owner's alone."""
    state = graded["states"][ASSIGNMENT]
    notebook = state / "autograded" / "vandal" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert "VANDAL environ []" in _printed(notebook)
    assert (state.stat().st_mode & 0o777) == 0o700
    assert ((state / "secret").stat().st_mode & 0o777) == 0o600


@pytest.mark.slow
@pytest.mark.skipif(ASSIGNMENT not in ASSIGNMENTS, reason="no 01 in the shared run")
def test_copies_are_flagged_with_the_partner_never_rescored(graded):
    """``borrower`` answers ELU with dlcore's code, ``dave`` copies ``carol``
    (tests/course_run.py, ``COPIERS``): they keep their scores, and the CSV's
    reason names what each resembles; nobody else is flagged as a copy, and
    no feedback page names a partner."""
    from course_run import COPIERS

    state = graded["states"][ASSIGNMENT]
    with open(state / "grades.csv", newline="") as fh:
        rows = {
            r["student_id"]: r
            for r in csv.DictReader(fh)
            if r["assignment"] == ASSIGNMENT
        }
    points = _points()
    for student, (part, partner) in COPIERS.items():
        test = "test_" + part.removesuffix("_answer")
        assert _course_parts(graded, student) == _only(**{test: points[test]})
        row = rows[student]
        assert row["needs_manual_grade"] == "yes", row
        assert f"answer to part {part} resembles {partner} (" in row["reason"], row
        assert row["reason"].startswith("possible copy"), row
        page = state / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html"
        html = page.read_text()
        assert "resembles" not in html and "possible copy" not in html, page
        for other in COPIERS:
            assert other == student or other not in html, (other, page)
    # the solution-built students and the honest ones resemble nobody
    for student, row in rows.items():
        if student not in COPIERS:
            assert "possible copy" not in row["reason"], row
    assert rows["solution"]["reason"] == ""
    code, out = graded["autograde"][ASSIGNMENT]
    assert "copy detection of 01_backprop:" in out, out


def test_the_secret_is_refused_from_the_environment(tmp_path, monkeypatch):
    from course_run import _cli

    from autograder import paths

    monkeypatch.setenv("AUTOGRADER_SECRET", "a secret in the environment")
    with pytest.raises(RuntimeError, match="may not sit in an environment"):
        paths.course_secret()
    proc = _cli("references", ASSIGNMENT, state=tmp_path / "state")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "unset $AUTOGRADER_SECRET" in proc.stderr
    assert not (tmp_path / "state" / "references").exists()


def test_safe_files_never_follow_a_link_or_open_a_fifo(tmp_path):
    from autograder import safe_files

    secret = tmp_path / "secret"
    secret.write_text("s3cret")
    folder = tmp_path / "autograded"
    folder.mkdir()
    (folder / "notebook.ipynb").symlink_to(secret)
    (folder / "sub").symlink_to(tmp_path)
    os.mkfifo(folder / "pipe")
    (folder / "ok.txt").write_text("fine")
    for name in ("notebook.ipynb", "pipe", "sub/secret"):
        with pytest.raises(safe_files.NotRegularFile):
            safe_files.read_regular(folder, folder / name)
    safe_files.write_replacing(folder, folder / "notebook.ipynb", b"{}")
    assert secret.read_text() == "s3cret"
    assert (folder / "notebook.ipynb").read_bytes() == b"{}"
    assert not safe_files.chmod_regular(folder, folder / "pipe", 0o444)
    assert [p.name for p in safe_files.planted(folder)] == ["pipe", "sub"]
    assert [p.name for p in safe_files.regular_files(folder)] == [
        "notebook.ipynb",
        "ok.txt",
    ]


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


# ------------------------------------------------------------- the parts


def test_comments_keep_the_graders_text():
    from autograder.gradebook import MARK, merge_comment

    mine = f"{MARK} test_relu: 0 / 1; ..."
    assert merge_comment(None, [mine]) == mine
    assert merge_comment("Nice plots.", [mine]) == f"Nice plots.\n\n{mine}"
    # a later run replaces its own part and keeps the grader's
    assert merge_comment(f"Nice plots.\n\n{MARK} old", [mine]) == (
        f"Nice plots.\n\n{mine}"
    )
    assert merge_comment(f"Nice plots.\n\n{MARK} old", []) == "Nice plots."
    assert merge_comment(f"{MARK} old", []) is None


def test_only_the_cells_the_graded_code_needs_run():
    source = SourceNotebook(SOURCE, ASSIGNMENT)
    program = build_program(source, source.nb)
    locked = [
        s.code for s in program.steps if s.kind == "cell" and "answer" not in s.label
    ]
    assert locked[0] == "import numpy as np"
    assert locked[1].startswith("ACTIVATIONS = {'relu': (relu_forward, relu_backward)")
    assert len(locked) == 2  # no demo, training run, plot or widget
    calls = [s.call for s in program.steps if s.kind == "call"]
    assert len(calls) == 32 and sum(c.hidden for c in calls) == 15


def test_codec_round_trip_and_refusals(tmp_path):
    value = (
        np.arange(6.0).reshape(2, 3),
        [1, 2.5, True, None, "text", 3 + 4j],
        {"rng": np.random.default_rng(3), "scalar": np.float32(1.5)},
        np.int64(7),
    )
    codec.dump(value, tmp_path, "v")
    back = codec.load(tmp_path, "v")
    assert np.array_equal(back[0], value[0]) and back[1] == value[1]
    assert back[2]["rng"].random() == np.random.default_rng(3).random()
    assert back[2]["scalar"].dtype == np.float32 and back[3] == 7

    class Liar(np.ndarray):
        def __eq__(self, other):
            return True

    codec.dump(np.zeros(3).view(Liar), tmp_path, "liar")
    assert type(codec.load(tmp_path, "liar")) is np.ndarray
    with pytest.raises(codec.CodecError):
        codec.dump([object()], tmp_path, "object")
    # a forged header announcing far more data than the file holds
    with open(tmp_path / "forged.0.npy", "wb") as fh:
        header = {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
        np.lib.format.write_array_header_1_0(fh, header)
        fh.write(bytes(32))
    (tmp_path / "forged.json").write_text('{"structure": ["array", 0], "arrays": 1}')
    with pytest.raises(codec.CodecError, match="does not match its header"):
        codec.load(tmp_path, "forged")
    (tmp_path / "forged.json").write_text('{"structure": ["array", 5], "arrays": 1}')
    with pytest.raises(codec.CodecError):
        codec.load(tmp_path, "forged")
