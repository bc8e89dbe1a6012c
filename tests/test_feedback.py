"""Feedback that diagnoses without giving the answer away (issue 15).

* the catalogue: every declared misconception loses points on the visible
  inputs (so a student learns before submitting) and is the one named;
* no hint (any level) and no misconception message contains a solution
  line of its notebook;
* a failed check is short in the notebook: what IPython prints for it
  (a wrong answer, code that raises, an unfilled answer under nbgrader) is
  at most about 15 lines, with no frame of the grader or the declarations;
* the trusted re-check names the misconception, as data.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from autograder import declarations
from autograder.checks import CheckFailure, check, evaluate, hint, hint_levels
from autograder.declarations import (
    Check,
    Misconception,
    declared_assignments,
    load_assignment,
    visible_seed,
)
from autograder.source import BEGIN_SOLUTION, END_SOLUTION, is_answer
from autograder.trusted.scoring import Returned, Scorer

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = declared_assignments()
# Fewer would not describe the mistakes a class makes (issue 15).
MIN_PER_ASSIGNMENT = 6
MIN_IN_ALL = 50
MAX_NOTEBOOK_LINES = 15


def _checks(assignment: str) -> list[Check]:
    return list(getattr(load_assignment(assignment), "CHECKS", []))


CATALOGUE = [
    pytest.param(a, c.name, m.name, id=f"{a}-{c.name}-{m.name}")
    for a in ASSIGNMENTS
    for c in _checks(a)
    for m in c.misconceptions
]


# ------------------------------------------------------------ catalogue


@pytest.mark.parametrize("assignment, name, mistake", CATALOGUE)
def test_each_misconception_loses_points_and_is_named(assignment, name, mistake):
    declared = declarations.get_check(assignment, name)
    misconception = declared.misconception(mistake)
    seed = visible_seed(assignment, name)
    received = declared.mistake_output(misconception, seed)
    assert declared.mismatches(declared.expected(seed), received), (
        f"{assignment}/{name}: the mistake {mistake!r} passes the visible check"
    )
    named = declared.diagnose(received, seed)
    assert named is misconception, (
        f"{assignment}/{name}: the mistake {mistake!r} is named "
        f"{getattr(named, 'name', None)!r}"
    )


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_assignment_catalogues_enough_misconceptions(assignment):
    count = sum(len(c.misconceptions) for c in _checks(assignment))
    assert count >= MIN_PER_ASSIGNMENT, f"{assignment}: {count} misconceptions"


def test_the_catalogue_holds_enough_misconceptions_in_all():
    """50 or more over the course (issue 15)."""
    assert len(CATALOGUE) >= MIN_IN_ALL


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_catalogued_check_is_declared_and_uses_its_misconceptions(assignment):
    """A name in a mistakes module's MISCONCEPTIONS that no check uses (a typo,
    a renamed check) would drop its misconceptions silently."""
    mistakes = importlib.import_module(f"autograder.assignments.mistakes.a{assignment}")
    checks = {c.name: c for c in _checks(assignment)}
    assert set(mistakes.MISCONCEPTIONS) <= set(checks)
    for name, catalogue in mistakes.MISCONCEPTIONS.items():
        assert checks[name].misconceptions is catalogue, name
    # level-2 hints kept next to the catalogue (07, 08) are used the same way
    more_hints = getattr(mistakes, "MORE_HINTS", {})
    assert set(more_hints) <= set(checks)
    for name, hints in more_hints.items():
        assert checks[name].more_hints is hints, name


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_reference_matches_no_misconception(assignment):
    """A right answer is never told it made a known mistake."""
    for declared in _checks(assignment):
        if declared.reference is None or not declared.misconceptions:
            continue
        seed = visible_seed(assignment, declared.name)
        assert declared.diagnose(declared.expected(seed), seed) is None, declared.name


# ------------------------------------------------- no answer given away


def _normal(code: str) -> str:
    """Code as compared: no spaces, no ``np.``/``numpy.`` prefixes."""
    code = re.sub(r"\b(?:np|numpy)\.", "", code)
    return re.sub(r"\s+", "", code)


# A solution line that assigns or returns, and the expression it assigns or
# returns from this many characters on (spaces left out), gives something
# away; an operation or a call inside a line from the longer length on.
# Shorter ones ("1 - beta1", "x.var()") name things, they solve nothing.
WHOLE_LINE = 8
PART_OF_LINE = 10


def _expressions(statement: ast.AST):
    """The operations and calls inside a statement."""
    for node in ast.walk(statement):
        if isinstance(node, (ast.BinOp, ast.Call, ast.Compare)):
            yield ast.unparse(node)


def _solution_fragments(assignment: str) -> set[str]:
    """What a hint must not contain: the solution's lines and their parts."""
    notebook = json.loads(
        (ROOT / "solutions" / assignment / f"{assignment}.ipynb").read_text()
    )
    fragments = set()
    for cell in notebook["cells"]:
        if not is_answer(cell):
            continue
        inside = False
        for line in "".join(cell["source"]).splitlines():
            text = line.strip()
            if BEGIN_SOLUTION in text or END_SOLUTION in text:
                inside = BEGIN_SOLUTION in text
                continue
            if not inside or not text or text.startswith("#"):
                continue
            whole = [text.split("  #")[0]]
            try:
                statement = ast.parse(whole[0])
            except SyntaxError:  # a line of a longer statement
                statement = None
            if statement is not None and statement.body:
                value = getattr(statement.body[0], "value", None)
                if not isinstance(value, (type(None), ast.Name, ast.Constant)):
                    whole.append(ast.unparse(value))
            fragments |= {
                _normal(w) for w in whole[1:] if len(_normal(w)) >= WHOLE_LINE
            }
            if "=" in whole[0] or whole[0].startswith("return "):
                fragments.add(_normal(whole[0]))
            if statement is not None:
                parts = {_normal(e) for e in _expressions(statement)}
                fragments |= {p for p in parts if len(p) >= PART_OF_LINE}
    return fragments


def _feedback_texts(declared: Check) -> list[tuple[str, str]]:
    texts = [
        (f"hint level {i + 1}", h)
        for i, h in enumerate(
            ([declared.hint] if declared.hint else []) + list(declared.more_hints)
        )
    ]
    texts += [(f"misconception {m.name}", m.message) for m in declared.misconceptions]
    return texts


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_hint_or_misconception_message_contains_a_solution_line(assignment):
    fragments = _solution_fragments(assignment)
    leaks = [
        f"{declared.name} ({where}) contains {fragment!r}"
        for declared in _checks(assignment)
        for where, text in _feedback_texts(declared)
        for fragment in fragments
        if fragment in _normal(text)
    ]
    assert not leaks, "\n".join(leaks)


def test_the_leak_test_finds_a_solution_expression_in_a_hint():
    fragments = _solution_fragments("04_batchnorm")
    leaky = "Normalise: (x - mean) / np.sqrt(var + eps), then scale."
    assert any(f in _normal(leaky) for f in fragments)


# ------------------------------------------ short failures in the notebook


def _cell_output(shell, capsys, code: str) -> str:
    capsys.readouterr()
    shell.run_cell(code)
    return capsys.readouterr().out


@pytest.fixture
def shell(monkeypatch, tmp_path):
    interactive = pytest.importorskip("IPython.core.interactiveshell")
    monkeypatch.setenv("AUTOGRADER_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    shell = interactive.InteractiveShell.instance()
    shell.run_cell("import numpy as np\nfrom autograder.checks import check, hint")
    yield shell
    interactive.InteractiveShell.clear_instance()


UNBIASED_FORWARD = """
def batchnorm_forward(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=0)
    var = x.var(axis=0, ddof=1)
    x_hat = (x - mean) / np.sqrt(var + eps)
    cache = dict(x=x, mean=mean, var=var, x_hat=x_hat, gamma=gamma, eps=eps)
    return gamma * x_hat + beta, cache
"""

RAISING_FOLD = """
def fold_batchnorm(W, b, gamma, beta, mean, var, eps=1e-5):
    return W @ gamma, b
"""

UNFINISHED_ZCA = """
def zca_whitening(x, eps=1e-5):
    raise NotImplementedError()
"""


def _assert_short(text: str) -> None:
    lines = text.strip().splitlines()
    assert 2 <= len(lines) <= MAX_NOTEBOOK_LINES, text
    for internal in ("CHECKS", "Check(", "autograder/", "declarations.py", "File "):
        assert internal not in text, f"{internal!r} shown:\n{text}"


def test_a_wrong_answer_is_shown_short_and_named(shell, capsys):
    shell.run_cell(UNBIASED_FORWARD)
    out = _cell_output(
        shell, capsys, 'check("04_batchnorm", "batchnorm_forward", batchnorm_forward)'
    )
    _assert_short(out)
    assert "CheckFailure: check 'batchnorm_forward' failed (visible test)" in out
    assert "known mistake: your variance divides by N - 1" in out
    assert 'hint("batchnorm_forward", level=1)' in out


def test_code_that_raises_is_shown_short_with_the_students_line(shell, capsys):
    shell.run_cell(RAISING_FOLD)
    out = _cell_output(
        shell, capsys, 'check("04_batchnorm", "fold_batchnorm", fold_batchnorm)'
    )
    _assert_short(out)
    assert "your code raised ValueError" in out
    assert "in fold_batchnorm, line 2: return W @ gamma, b" in out
    assert "hint: " in out


def test_an_unfilled_answer_under_nbgrader_is_one_line(shell, capsys, monkeypatch):
    shell.run_cell(UNFINISHED_ZCA)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    out = _cell_output(
        shell, capsys, 'check("04_batchnorm", "zca_whitening", zca_whitening)'
    )
    assert out.strip().splitlines() == [
        "NotImplementedError: `zca_whitening` is not implemented yet: 0 of 2 points"
    ]
    assert shell.last_execution_result.error_in_exec.__class__ is NotImplementedError


def test_hints_come_in_levels_on_request(capsys):
    declared = declarations.get_check("04_batchnorm", "batchnorm_forward")
    levels = len(hint_levels(declared))
    hint("batchnorm_forward", level=2)
    out = capsys.readouterr().out
    assert out.startswith(f"hint 2 of {levels} for 'batchnorm_forward':")
    assert declared.more_hints[0] in out
    assert 'hint("batchnorm_forward", level=3)' in out
    with pytest.raises(ValueError, match="hint levels 1 to"):
        hint("batchnorm_forward", level=levels + 1)
    with pytest.raises(LookupError, match="no_such_check"):
        hint("no_such_check")


def test_check_failure_names_the_misconception_outside_ipython(monkeypatch, tmp_path):
    monkeypatch.setenv("AUTOGRADER_STATE_DIR", str(tmp_path))
    namespace: dict = {"np": np}
    exec(UNBIASED_FORWARD, namespace)
    with pytest.raises(CheckFailure) as info:
        check("04_batchnorm", "batchnorm_forward", namespace["batchnorm_forward"])
    assert "known mistake: your variance divides by N - 1" in str(info.value)


# ------------------------------------------------------------ as data


def test_the_outcome_and_the_trusted_scorer_name_the_misconception():
    assignment, name = "04_batchnorm", "running_statistics"
    declared = declarations.get_check(assignment, name)
    mistake = declared.misconception("biased_batch_variance")
    seed = visible_seed(assignment, name)
    received = declared.mistake_output(mistake, seed)
    outcome = evaluate(declared, mistake.answer, seed, declared.expected(seed))
    assert not outcome.passed and outcome.misconception is mistake

    from autograder.trusted.program import CallSpec

    call = CallSpec("test_running_statistics", name, "running_statistics", False)
    scorer = Scorer(
        {name: declared}, {call.key: declared.expected(seed)}, {}, assignment
    )
    assert scorer.diagnose(call, Returned(received)) is mistake
    assert scorer.diagnose(call, Returned(declared.expected(seed))) is None
    # without an assignment (no seeds) nothing is diagnosed
    assert Scorer({name: declared}, {}, {}).diagnose(call, Returned(received)) is None


def test_a_misconception_needs_exactly_one_way_to_compute_it():
    with pytest.raises(ValueError, match="exactly one of answer and variant"):
        Misconception("twice", "a message", answer=abs, variant=abs)
    with pytest.raises(ValueError, match="exactly one of answer and variant"):
        Misconception("neither", "a message")
    with pytest.raises(ValueError, match="distinct names"):
        Check(
            name="dup",
            points=1,
            make_inputs=lambda rng: {},
            call=lambda fn: fn(),
            compare=lambda e, r: None,
            misconceptions=(
                Misconception("same", "one", variant=lambda: 1),
                Misconception("same", "two", variant=lambda: 2),
            ),
        )


def test_a_broken_variant_names_nothing_instead_of_failing():
    def broken():
        raise ZeroDivisionError

    declared = Check(
        name="answer",
        points=1,
        make_inputs=lambda rng: {},
        call=lambda fn: fn(),
        reference=lambda: np.float64(1.0),
        misconceptions=(
            Misconception("broken", "never named", variant=broken),
            Misconception("double", "twice the answer", variant=lambda: 2.0),
        ),
    )
    assert declared.diagnose(2.0, seed=0).name == "double"
    assert declared.diagnose(3.0, seed=0) is None


def test_solution_lines_are_read_from_the_solution_regions():
    fragments = _solution_fragments("04_batchnorm")
    assert _normal("(x - mean) / np.sqrt(var + eps)") in fragments
    assert _normal("x.var(axis=0) * m / (m - 1)") in fragments
    assert not any("Parameters" in f or "Returns" in f for f in fragments)
