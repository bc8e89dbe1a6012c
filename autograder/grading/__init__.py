"""Grading a whole class: autograde sharded over a Dask cluster.

One *unit* is one student's submission of one assignment
(:mod:`.units`). The coordinator (:mod:`.coordinator`) submits the units to
a :class:`distributed.Client` (a ``LocalCluster`` of this machine by
default, or an existing cluster), where :func:`.worker.grade_unit` runs
nbgrader's autograde and the trusted re-check of one submission; it gathers
the records as they complete, writes what only one process may write, and
records each finished unit in the ledger (:mod:`.ledger`) so that a run
interrupted anywhere resumes. :mod:`.progress` shows the progress bar and
the timings; :mod:`.warmup` fills the Numba cache the kernels share before
any unit starts. Serial grading is ``--workers 1``: the same code path.
"""

from __future__ import annotations

__all__: list[str] = []
