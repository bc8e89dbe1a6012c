"""Copy detection (autograder.copies) and the review reasons (autograder.review)
on small answers written here; the course run's copiers are in
test_harm.py."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder import copies, review
from autograder.copies import (
    MIN_TOKENS,
    REFERENCE,
    SIMILARITY_THRESHOLD,
    CopyReport,
    Resemblance,
    TooShort,
    detect_copies,
    render,
)
from autograder.trusted.results import NotebookResult, RecheckReport, SubmissionResult
from autograder.trusted.scan import Flag

ROOT = Path(__file__).resolve().parents[1]
PART = "softmax_answer"
TEMPLATE = '''def softmax(s):
    """Probabilities of the scores s (one row per example)."""
    # YOUR CODE HERE
    raise NotImplementedError()
'''
SOLUTION = '''def softmax(s):
    """Probabilities of the scores s (one row per example)."""
    ### BEGIN SOLUTION
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
    ### END SOLUTION
'''
# the solution, names changed: nothing of one's own
LIKE_THE_SOLUTION = '''def softmax(scores):
    """Probabilities of the scores s (one row per example)."""
    exps = np.exp(scores - scores.max(axis=1, keepdims=True))
    return exps / exps.sum(axis=1, keepdims=True)
'''
OWN = '''def softmax(s):
    """Probabilities of the scores s (one row per example)."""
    out = np.empty_like(s, dtype=float)
    for i, row in enumerate(s):
        shifted = row - np.max(row)
        weights = np.exp(shifted)
        out[i] = weights / np.sum(weights)
    return out
'''
# OWN, names changed and comments added
COPY_OF_OWN = '''def softmax(s):
    """Probabilities of the scores s (one row per example)."""
    result = np.empty_like(s, dtype=float)
    for k, r in enumerate(s):
        # subtract the max for stability
        centred = r - np.max(r)
        w = np.exp(centred)
        result[k] = w / np.sum(w)  # normalise
    return result
'''
OTHER_OWN = '''def softmax(s):
    """Probabilities of the scores s (one row per example)."""
    from scipy.special import logsumexp

    log_p = s - logsumexp(s, axis=1)[:, None]
    probabilities = np.exp(log_p)
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    return probabilities
'''
SHORT = '''def softmax(s):
    """Probabilities of the scores s (one row per example)."""
    return scipy_softmax(s, 1)
'''
REFERENCE_CODE = """def softmax(x):
    x = as_float_array(x, "x")
    check_ndim(x, "x", 2, "(N, K)")
    shifted = x - x.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    out = exp / exp.sum(axis=-1, keepdims=True)
    return out.astype(x.dtype, copy=False)
"""
BORROWED = '''def softmax(s):
    """Probabilities of the scores s (one row per example)."""
    z = as_float_array(s, "s")
    check_ndim(z, "s", 2, "(N, K)")
    centred = z - z.max(axis=-1, keepdims=True)
    ex = np.exp(centred)
    result = ex / ex.sum(axis=-1, keepdims=True)
    return result.astype(z.dtype, copy=False)
'''


def _detect(answers, references=None):
    refs = {PART: (("dlcore.functional.softmax",), REFERENCE_CODE)}
    return detect_copies(
        "a01",
        {student: {PART: text} for student, text in answers.items()},
        {PART: TEMPLATE},
        {PART: SOLUTION},
        refs if references is None else references,
    )


def _pairs(report: CopyReport) -> set[tuple[str, str]]:
    return {(r.student, r.partner) for r in report.resemblances}


def test_a_copy_between_students_is_flagged_both_ways():
    report = _detect({"carol": OWN, "dave": COPY_OF_OWN, "erin": OTHER_OWN})
    assert _pairs(report) == {("carol", "dave"), ("dave", "carol")}
    assert all(r.similarity >= SIMILARITY_THRESHOLD for r in report.resemblances)
    assert report.comparisons == 3 + 3  # three pairs, three with dlcore


def test_a_copy_of_dlcore_names_the_functions():
    report = _detect({"borrower": BORROWED, "erin": OTHER_OWN})
    (found,) = report.resemblances
    assert (found.student, found.partner) == ("borrower", REFERENCE)
    assert found.functions == ("dlcore.functional.softmax",)


def test_the_template_and_the_solution_are_boilerplate():
    """The untouched template and the model answer (names changed) have
    nothing of their own: not compared, not too short, never flagged."""
    report = _detect(
        {"untouched": TEMPLATE, "model": LIKE_THE_SOLUTION, "solution": SOLUTION}
    )
    assert report.resemblances == [] and report.too_short == []
    assert report.comparisons == 0
    # without the boilerplate removal they would all resemble each other
    bare = detect_copies(
        "a01",
        {"model": {PART: LIKE_THE_SOLUTION}, "solution": {PART: SOLUTION}},
        {},
        {PART: ""},
    )
    assert _pairs(bare) == {("model", "solution"), ("solution", "model")}


def test_an_answer_too_short_to_judge_is_recorded_not_flagged():
    report = _detect({"a": SHORT, "b": SHORT})
    assert report.resemblances == []
    assert {t.student for t in report.too_short} == {"a", "b"}
    assert all(0 < t.tokens < MIN_TOKENS for t in report.too_short)


def test_an_answer_missing_from_a_submission_is_skipped():
    report = detect_copies(
        "a01",
        {"a": {PART: OWN}, "b": {}},
        {PART: TEMPLATE},
        {PART: SOLUTION},
    )
    assert report.resemblances == [] and report.comparisons == 0


def test_records_are_rendered_in_one_place():
    mine = Resemblance("dave", "two_layer_answer", "carol", 0.912)
    theirs = Resemblance(
        "bo", "elu_answer", REFERENCE, 0.834, ("dlcore.functional.elu_forward",)
    )
    assert render(mine) == (
        "answer to part two_layer_answer resembles student carol's answer (91 %)"
    )
    assert render(theirs) == (
        "answer to part elu_answer resembles dlcore's `elu_forward` (83 %)"
    )
    assert "too short" in render(TooShort("x", "p", 3))
    report = CopyReport("a01", resemblances=[mine, theirs])
    reasons = copies.manual_reasons(report)
    assert set(reasons) == {"dave", "bo"}
    assert reasons["dave"].startswith("possible copy (compare by hand; not re-scored)")
    assert "carol" in reasons["dave"]
    assert any("dave" in line for line in copies.summary(report))
    with pytest.raises(TypeError, match="Resemblance or a TooShort, received str"):
        render("dave")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("", {}, {}, {}), "assignment must be a non-empty string"),
        (("a01", ["dave"], {}, {}), r"answers must map student -> \{part: source\}"),
        (("a01", {"dave": "code"}, {}, {}), "answers must map student"),
        (("a01", {}, [], {}), "release must map part -> source, received list"),
        (("a01", {}, {}, None), "solution must map part -> source, received NoneType"),
    ],
)
def test_bad_input_is_named(arguments, message):
    with pytest.raises(TypeError, match=message):
        detect_copies(*arguments)


def test_bad_withheld_names_are_named():
    with pytest.raises(ValueError, match="dotted names .* received 'relu'"):
        copies.reference_sources({PART: SOLUTION}, ["relu"])
    with pytest.raises(ValueError, match="dlcore.functional.no_such_thing"):
        copies.reference_sources(
            {PART: "def no_such_thing(): pass"}, ["dlcore.functional.no_such_thing"]
        )


def test_the_parts_map_to_the_dlcore_functions_they_define():
    found = copies.reference_sources(
        {
            "relu_answer": "def relu_forward(x): ...\n\ndef relu_backward(d, c): ...",
            "perceptron_answer": "def perceptron_epoch(w, b, x, y): ...",
        },
        ["dlcore.functional.relu_forward", "dlcore.functional.relu_backward"],
    )
    assert set(found) == {"relu_answer"}
    names, code = found["relu_answer"]
    assert names == (
        "dlcore.functional.relu_backward",
        "dlcore.functional.relu_forward",
    )
    assert "def relu_forward" in code and "def relu_backward" in code


def test_answers_are_read_from_regular_files_only(tmp_path):
    root = tmp_path / "course"
    (root / "solutions" / "a01").mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(OWN)
    cell.metadata["nbgrader"] = {"solution": True, "grade_id": PART}
    odd = nbformat.v4.new_code_cell("x = 1")
    odd.metadata["nbgrader"] = {"solution": True, "grade_id": ["a list"]}
    nb.cells = [cell, odd]
    nbformat.write(nb, root / "solutions" / "a01" / "a01.ipynb")
    submitted = tmp_path / "submitted"
    for student in ("ann", "linked", "broken"):
        (submitted / student / "a01").mkdir(parents=True)
    nbformat.write(nb, submitted / "ann" / "a01" / "a01.ipynb")
    (submitted / "linked" / "a01" / "a01.ipynb").symlink_to(
        submitted / "ann" / "a01" / "a01.ipynb"
    )
    (submitted / "broken" / "a01" / "a01.ipynb").write_text("{not json")
    answers = copies.read_answers(
        root, submitted, "a01", ["ann", "linked", "broken", "absent"]
    )
    assert answers == {"ann": {PART: OWN}, "linked": {}, "broken": {}, "absent": {}}


def test_scan_flags_and_copies_become_review_reasons():
    flags = [Flag(f"answer p{i}", i, "process", "os._exit") for i in range(5)]
    result = SubmissionResult(
        "mallory", "a01", [NotebookResult("a01", {}, flags=flags)]
    )
    clean = SubmissionResult("ann", "a01", [NotebookResult("a01", {})])
    report = RecheckReport("a01", results={"mallory": result, "ann": clean})
    report.skipped = ["old"]
    recorded = {"old": {"flags": ["answer x, line 1: [builtins] __builtins__"]}}
    copied = CopyReport("a01", resemblances=[Resemblance("ann", "p", "bob", 0.9)])
    reasons = review.review_reasons(report, copied, recorded)
    assert set(reasons) == {"mallory", "ann", "old"}
    assert reasons["mallory"][0].startswith("suspicious code (static scan")
    assert "(and 2 more in the autograde output)" in reasons["mallory"][0]
    assert "[builtins]" in reasons["old"][0]
    assert "student bob's answer (90 %)" in reasons["ann"][0]


def test_forty_students_take_seconds_not_minutes():
    """O(N^2) comparisons per part; quoted in the report (no duration is
    asserted: the machine may be busy)."""
    rng = np.random.default_rng(0)
    ops = ["+", "-", "*"]

    def answer(i):
        lines = [
            f"    v{j} = s {ops[rng.integers(3)]} {rng.integers(1, 9)} * v{j - 1}"
            for j in range(1, 12)
        ]
        return "def softmax(s):\n    v0 = s\n" + "\n".join(lines) + "\n    return v11\n"

    answers = {
        f"s{i:02d}": {p: answer(i) for p in ("p1", "p2", "p3")} for i in range(40)
    }
    start = time.perf_counter()
    report = detect_copies(
        "a01", answers, {}, {"p1": SOLUTION, "p2": SOLUTION, "p3": SOLUTION}
    )
    took = time.perf_counter() - start
    assert report.comparisons == 3 * 40 * 39 // 2
    print(
        f"copy detection: 40 students x 3 parts, {report.comparisons} "
        f"comparisons in {took:.2f} s"
    )
