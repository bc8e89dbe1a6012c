"""A grading verdict that student code cannot fake.

nbgrader runs the test cells in the student's own kernel, after the
student's code, so that code can rewrite what the tests see (patched
``np.allclose``, a fake ``np``, an IPython input transformer that turns
test cells into ``pass``, arrays that lie about equality...). After
``nbgrader autograde``, :func:`recheck_assignment` grades every submission
again where student code cannot reach the verdict:

* the student's answer cells, with the assignment's own locked cells (never
  the submission's copies), run in an isolated Python process, forked from
  a warm interpreter in which no student code has run (an empty working
  directory, a scrubbed environment, CPU, memory, file and
  output limits, a confined file system, no network, no new processes);
* that process calls each graded function on inputs made from the hidden
  seeds and hands back only plain arrays;
* this process, which never executes student code, compares them with the
  dlcore references using the same check declarations as the test cells;
* where the verdicts differ, the trusted one is written into nbgrader's
  gradebook with a comment, and the submissions are listed;
* a static scan flags (does not grade) code that tampers with grading.

Modules: :mod:`.recheck` (the :class:`Session`: prepares, then grades),
:mod:`.assignment` (:func:`recheck_assignment`: every submission, resumably),
:mod:`.harness` (the declared calls the child runs),
:mod:`.attempts` (runs a program, again without a step that stopped it),
:mod:`.children` (the child processes and the fork-server registry),
:mod:`.protocol` (what parent and child say), :mod:`.runner` (the child),
:mod:`.forkserver` (the warm interpreter children are forked from),
:mod:`.sandbox` (confinement), :mod:`.codec` (plain data across the
boundary), :mod:`.program` (which cells run), :mod:`.scoring` (verdicts and
scores), :mod:`.results` (result records, resume state), :mod:`.scan` and
:mod:`.kernel` (confines nbgrader's own kernels too). The gradebook writes
are in :mod:`autograder.gradebook`. See ``autograder/trusted/README.md``;
hidden tests: ``autograder/HIDDEN_TESTS.md``.
"""

from __future__ import annotations

__all__ = ["recheck_assignment", "Session", "Limits", "TrustedRecheckError"]


def __getattr__(name):  # lazy: nbgrader's kernels import .kernel alone
    if name == "recheck_assignment":
        from .assignment import recheck_assignment

        return recheck_assignment
    if name in ("Session", "TrustedRecheckError"):
        from . import recheck

        return getattr(recheck, name)
    if name == "Limits":
        from .sandbox import Limits

        return Limits
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
