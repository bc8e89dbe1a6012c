"""What a grading run shows while it works, and its timings at the end.

A tqdm bar over the units (rate and ETA; on stderr), one line per finished
unit in verbose mode, and :func:`timing_lines`: per step the median and
mean seconds per unit, and the run in all.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Sequence

from tqdm import tqdm

from .worker import Timings, UnitRecord

__all__ = ["Progress", "timing_lines", "STEPS"]

# (label, Timings attribute) in the order a unit runs them.
STEPS = (
    ("trusted session (once per worker)", "session"),
    ("kernel start", "kernel_start"),
    ("execution (notebook cells)", "execution"),
    ("nbgrader in all", "nbgrader"),
    ("trusted re-check", "recheck"),
    ("overhead (all but the cells)", "overhead"),
    ("unit in all", "total"),
)


class Progress:
    """The bar over ``total`` units; ``verbose``: a line per unit too."""

    def __init__(self, total: int, verbose: bool, say):
        self.verbose = verbose
        self.say = say
        self.bar = tqdm(
            total=total,
            unit="unit",
            desc="grading",
            file=sys.stderr,
            mininterval=1.0,
            dynamic_ncols=True,
        )

    def done(self, record: UnitRecord | None, key: str, failure: str = "") -> None:
        if self.verbose:
            if failure:
                line = f"  {key}: FAILED ({failure})"
            else:
                score = record.scores
                shown = "-" if score is None else f"{score[0]:g} / {score[1]:g}"
                line = (
                    f"  {key}: {shown} in {record.timings.total:.1f} s "
                    f"(worker {record.worker})"
                )
            self.bar.write(line, file=sys.stdout)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def timing_lines(timings: Sequence[Timings], wall: float, workers: int) -> list[str]:
    """Per step the median and mean over the units, then the run in all."""
    if not timings:
        return [f"timings: no unit graded; {wall:.1f} s in all"]
    lines = [f"timings of {len(timings)} unit(s), seconds per unit (median / mean):"]
    for label, name in STEPS:
        values = [getattr(t, name) for t in timings]
        lines.append(
            f"  {label:<34} {statistics.median(values):7.2f} / "
            f"{statistics.fmean(values):7.2f}"
        )
    rate = 60 * len(timings) / wall if wall > 0 else 0.0
    lines.append(
        f"in all: {wall:.1f} s with {workers} worker(s), {rate:.1f} units per minute"
    )
    return lines
