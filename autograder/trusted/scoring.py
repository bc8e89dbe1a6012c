"""From what the child handed back to a score per test cell (parent side).

What the parent received for a graded call is one of

* :class:`Returned`: the value the declared call returned (plain data);
* :class:`~.protocol.ErrorRecord`: what the student's code raised;
* :class:`Stopped`: the call (or another of its test cell) stopped the
  child, so it never ran to the end;
* :class:`Unreadable`: a value came back that cannot be read.

:meth:`Scorer.verdict` turns that into None (passed) or what the student
may be told: for every call, nothing computed from the hidden inputs, since
the child held them while it ran (:func:`autograder.declarations.hidden_summary`;
the reasons: ``autograder/HIDDEN_TESTS.md``). :meth:`Scorer.score` applies nbgrader's
rule: a test cell scores its points when all its calls pass, else zero.
:meth:`Scorer.diagnose` names the known misconception a failing value
matches (fixed words of the declaration); :class:`PartResult` keeps it as
data.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass

from .. import declarations
from ..declarations import Check, Misconception, hidden_summary
from . import protocol
from .program import CallSpec, GradeCellSpec, Program, SourceNotebook
from .results import NotebookResult, PartResult

__all__ = ["Returned", "Stopped", "Unreadable", "Received", "Scorer"]


@dataclass(frozen=True)
class Returned:
    """The value a graded call returned."""

    value: object


@dataclass(frozen=True)
class Stopped:
    """The call did not run to its end: ``message`` says why (the parent's words)."""

    message: str


@dataclass(frozen=True)
class Unreadable:
    """What the call returned cannot be read back: ``message`` says why."""

    message: str


Received = Returned | protocol.ErrorRecord | Stopped | Unreadable


class Scorer:
    """Scores submissions against prepared expected outputs.

    Parameters
    ----------
    declarations : ``{check name: Check}``
    expected : ``{call key: expected output}`` (:attr:`CallSpec.key`)
    problems : ``{check name: why the re-check cannot run it}``
    assignment : str, optional
        Where the seeds come from, for :meth:`diagnose` (None: no diagnosis).
    """

    def __init__(
        self,
        declarations: Mapping[str, Check],
        expected: Mapping[str, object],
        problems: Mapping[str, str],
        assignment: str | None = None,
    ):
        self.declarations = declarations
        self.expected = expected
        self.problems = problems
        self.assignment = assignment
        # {call key: {misconception: output}}: the same for every submission
        self._mistakes: dict[str, dict] = {}

    def why_unsupported(self, spec: GradeCellSpec) -> str:
        """Why this re-check cannot redo a test cell ("" if it can)."""
        if spec.unsupported:
            return spec.unsupported
        for call in spec.calls:
            if call.check in self.problems:
                return f"check {call.check!r}: {self.problems[call.check]}"
        return ""

    def verdict(self, call: CallSpec, received: Received) -> str | None:
        """None if the call passed, else what the student may be told.

        Only categories, for visible calls as for hidden ones: the child
        that made a visible call also held the hidden inputs, so whatever
        its code returned or raised (a value at the first mismatch, an
        exception's text) could carry them out. The visible tests' full
        messages reach the student from nbgrader's kernel, which never has
        the hidden inputs.
        """
        if isinstance(received, Stopped):
            return received.message  # the parent's words
        if isinstance(received, Unreadable):
            return "what your code returned cannot be read back"
        if isinstance(received, protocol.ErrorRecord):
            return _raised(received)
        declared = self.declarations[call.check]
        try:
            mismatches = declared.mismatches(self.expected[call.key], received.value)
        except Exception:  # a custom compare choking on the value
            return "what your code returned cannot be compared"
        if not mismatches:
            return None
        return hidden_summary(declared, mismatches)

    def diagnose(self, call: CallSpec, received: Received) -> Misconception | None:
        """The known misconception a returned value matches, or None."""
        declared = self.declarations.get(call.check)
        if self.assignment is None or declared is None or not declared.misconceptions:
            return None
        if not isinstance(received, Returned):
            return None
        seed_of = declarations.hidden_seed if call.hidden else declarations.visible_seed
        cache = self._mistakes.setdefault(call.key, {})
        seed = seed_of(self.assignment, call.check)
        return declared.diagnose(received.value, seed, cache)

    def score(
        self,
        source: SourceNotebook,
        program: Program,
        received: Mapping[str, Received],
        result: NotebookResult,
    ) -> None:
        """Fill ``result.parts``: one :class:`PartResult` per test cell."""
        by_cell: dict[str, list] = {}
        for step in program.steps:
            if step.kind == protocol.CALL:
                by_cell.setdefault(step.call.grade_id, []).append(step)
        for grade_id, spec in source.grade_cells.items():
            part = PartResult(
                grade_id, spec.points, None, answer_cells=list(spec.answer_cells)
            )
            result.parts[grade_id] = part
            part.unsupported = self.why_unsupported(spec)
            if part.unsupported:
                continue
            passed = True
            failed = set()  # where the problems are: "visible" and/or "hidden"
            for answer in spec.answer_cells:
                if answer in result.dropped:  # the calls that need it fail
                    failed.add("visible")
                    part.messages.append(
                        f"the answer cell {answer} {result.dropped[answer]} and was "
                        "left out, so what it defines is missing"
                    )
            for step in by_cell.get(grade_id, []):
                value = received.get(step.id)
                if value is None:
                    message = "the check did not run"
                else:
                    message = self.verdict(step.call, value)
                if message is not None:
                    passed = False
                    kind = "hidden" if step.call.hidden else "visible"
                    failed.add(kind)
                    mistake = self.diagnose(step.call, value)
                    if mistake is not None:
                        part.record_misconception(step.call.check, mistake.name)
                        message += "\n" + declarations.render_misconception(mistake)
                    part.messages.append(
                        f"check {step.call.check!r} ({kind} test): {message}"
                    )
            part.trusted = spec.points if passed else 0.0
            part.hidden_only = failed == {"hidden"}


def _raised(error: protocol.ErrorRecord) -> str:
    """What a call that raised may tell: the kind, never the message."""
    if error.withheld:
        return "your code used dlcore, which the re-check of this part does not provide"
    if error.type == "NotImplementedError":
        return "not implemented yet (NotImplementedError)"
    builtin = isinstance(getattr(builtins, error.type, None), type)
    return f"your code raised {error.type if builtin else 'an exception'}"
