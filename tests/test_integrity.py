"""The trusted re-check (autograder.trusted): a verdict student code cannot fake.

* The adversarial corpus (tests/integrity_fixtures/corpus.py) re-checked in
  one run, as after ``nbgrader autograde``, against a scratch gradebook in
  which nbgrader "gave" every submission full marks: each case gets its
  intended score per part, the honest ones keep full marks, nothing stops
  the others, the gradebook and its comments show the trusted verdict, and
  the static scan flags what it should (and nothing honest).
* A crash midway (SIGKILL) loses no recorded grade and resumes.
* End to end: a real ``python -m autograder autograde`` (nbgrader) that an
  input transformer fools, then the re-check, then the CSV export showing
  the trusted score (read from the shared course run, tests/course_run.py).
* The parts: comments keep the grader's text, only the cells the graded
  code needs run, the codec's round trip and refusals.

What the child process and nbgrader's kernels cannot do, and the fork
server: test_isolation.py. No submission harms another: test_harm.py. What
they share: integrity_support.py.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import textwrap
import time

import nbformat
import numpy as np
import pytest
from fake_class import ASSIGNMENTS
from harness import CELL_SECONDS, HANG_SECONDS, announce
from integrity_support import (
    ASSIGNMENT,
    CASES,
    LIMITS,
    ROOT,
    SOURCE,
    autograded_scores,
    corpus,
    dlcore_dirs,
    expected_parts,
    make_submission,
    part_points,
    register,
    release_into,
)

from autograder.trusted import codec, sandbox
from autograder.trusted.program import SourceNotebook, build_program

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
        release_into(db_url, base / "release")
        register(db_url, CASES)
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
            scores = autograded_scores(submission.grades)
            assert scores == expected_parts(case)
        sigmoid = gb.find_comment(
            "sigmoid_answer", ASSIGNMENT, ASSIGNMENT, "patched_allclose"
        )
        text = sigmoid.manual_comment
        assert text.startswith("[trusted re-check] test_sigmoid: 0 / 1")
        assert "check 'sigmoid' (visible test): out: wrong values" in text
        solution = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, "solution")
        assert sum(autograded_scores(solution.grades).values()) == sum(
            part_points().values()
        )
        untouched = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, "untouched")
        assert sum(autograded_scores(untouched.grades).values()) == 0
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
    release_into(db_url, tmp_path / "release")
    register(db_url, students)
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
        scores = autograded_scores(grades.grades)
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
            assert autograded_scores(nb.grades) == expected_parts(case)
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

    full = sum(part_points().values())
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
