"""The class report (``python -m autograder report``), read back from its files.

It grades nothing itself: it reads the shared course run (``course_run.py``),
where 04_batchnorm has a mixed class: the solution, the untouched release,
and ``ann`` and ``bob`` with known misconceptions (both divide the batch
variance by N - 1; ann's backward pass treats the batch statistics as
constants). Report functions on hand-made records are tested too, which
costs nothing.
"""

from __future__ import annotations

import csv
import json

import pytest
from course_run import _cli
from fake_class import ASSIGNMENTS, MISTAKEN_STUDENTS, MISTAKES

from autograder import report
from autograder.report import ClassReport, MistakeCount, PartSummary

needs_mistakes = pytest.mark.skipif(
    MISTAKES not in ASSIGNMENTS, reason=f"the mistaken students use {MISTAKES}"
)


def _read_csv(path):
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


@needs_mistakes
def test_report_counts_the_misconceptions_of_a_graded_class(graded, tmp_path):
    state = graded["states"][MISTAKES]
    proc = _cli(
        "report", MISTAKES, "-o", str(tmp_path), state=state, root=graded["course"]
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = _read_csv(tmp_path / f"{MISTAKES}.csv")
    class_size = 2 + len(MISTAKEN_STUDENTS)  # solution, untouched, ann, bob
    by_part = {}
    for row in rows:
        by_part.setdefault(row["part"], []).append(row)
    forward = by_part["test_batchnorm_forward"]
    assert {r["submissions"] for r in forward} == {str(class_size)}
    assert forward[0]["passed"] == "1"  # only the solution
    counts = {r["misconception"]: int(r["students"]) for r in forward}
    assert counts == {"variance_unbiased": 2}
    assert float(forward[0]["share"]) == pytest.approx(2 / class_size, abs=1e-3)
    backward = {
        r["misconception"]: int(r["students"])
        for r in by_part["test_batchnorm_backward"]
    }
    assert backward == {"statistics_as_constants": 1}
    # a part everyone but the untouched release passes names nothing
    inference = by_part["test_batchnorm_inference"]
    assert [(r["passed"], r["misconception"]) for r in inference] == [
        (str(class_size - 1), "")
    ]
    page = (tmp_path / f"{MISTAKES}.html").read_text()
    assert "src='data:image/png;base64," in page
    assert f"<b>50%</b> of the class (2 of {class_size})" in page
    assert "your variance divides by N - 1" in page


@needs_mistakes
def test_the_recheck_records_misconceptions_per_part(graded):
    state = graded["states"][MISTAKES] / "trusted" / f"{MISTAKES}.json"
    students = json.loads(state.read_text())["students"]
    assert students["ann"]["misconceptions"] == {
        "test_batchnorm_forward": [["batchnorm_forward", "variance_unbiased"]],
        "test_batchnorm_backward": [["batchnorm_backward", "statistics_as_constants"]],
    }
    assert students["solution"]["misconceptions"] == {}
    assert students["untouched"]["misconceptions"] == {}


def _sample() -> ClassReport:
    part = PartSummary("test_linear", 2.0, [2.0, 0.0, 0.0, 2.0, 0.0])
    part.mistakes = [
        MistakeCount("linear", "dw_averaged", "your dW is N times too small", 2, 0.4)
    ]
    empty = PartSummary("test_relu", 1.0, [1.0] * 5)
    return ClassReport("01_backprop", list("abcde"), [part, empty])


def test_report_files_from_records(tmp_path):
    sample = _sample()
    rows = _read_csv(report.write_csv(sample, tmp_path / "r.csv"))
    assert [r["part"] for r in rows] == ["test_linear", "test_relu"]
    assert rows[0]["pass_rate"] == "0.400" and rows[0]["students"] == "2"
    assert rows[1]["misconception"] == "" and rows[1]["pass_rate"] == "1.000"
    page = report.write_html(sample, tmp_path / "r.html").read_text()
    assert "<b>40%</b> of the class (2 of 5): your dW is N times too small" in page
    assert "no known misconception named" in page
    assert page.count("<h3>") == 2
