"""The trusted re-check's cost per submission per notebook (target: < 1 s).

For every assignment two re-check sessions grade the same notebooks, taking
turns: one forks each child from its warm server (the default), the other,
the baseline, starts a fresh ``python -I`` per notebook (``warm=False``,
what the re-check did before, and what it falls back to). Each grades two
submissions: the solution (every graded call runs, 07 trains its CNN) and
the untouched release (every answer raises ``NotImplementedError``). The
time is the whole :meth:`Session.recheck_notebook`: building the program,
the child, comparing, scoring.

The sessions use a scratch state folder (their own course secret), never
the course's.
"""

from __future__ import annotations

import os
import statistics
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 1.0


def assignments() -> list[str]:
    return sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())


def measure(repeat: int = 3, only: list[str] | None = None) -> list[dict]:
    """One row per assignment, notebook and submission: median seconds."""
    from autograder.trusted.recheck import Session

    rows = []
    saved = os.environ.get("AUTOGRADER_STATE_DIR")
    with tempfile.TemporaryDirectory(prefix="recheck-bench-") as state:
        os.environ["AUTOGRADER_STATE_DIR"] = state
        try:
            for assignment in only or assignments():
                with (
                    Session(ROOT, assignment) as warm,
                    Session(ROOT, assignment, warm=False) as fresh,
                ):
                    for source in warm.sources:
                        name = f"{source.name}.ipynb"
                        submissions = {
                            "solution": ROOT / "solutions" / assignment / name,
                            "release": ROOT / "notebooks" / assignment / name,
                        }
                        for label, path in submissions.items():
                            times = {"warm": [], "fresh": []}
                            scores = set()
                            for _ in range(repeat):
                                for key, session in (("warm", warm), ("fresh", fresh)):
                                    result = session.recheck_notebook(source, path)
                                    times[key].append(result.seconds)
                                    scores.add((key, result.score, result.max_score))
                            rows.append(
                                {
                                    "notebook": source.name,
                                    "submission": label,
                                    "warm": statistics.median(times["warm"]),
                                    "fresh": statistics.median(times["fresh"]),
                                    "scores": sorted(scores),
                                    "children": warm.children,
                                }
                            )
                            print(
                                f"  measured re-check / {source.name} / {label}",
                                flush=True,
                            )
        finally:
            if saved is None:
                os.environ.pop("AUTOGRADER_STATE_DIR", None)
            else:
                os.environ["AUTOGRADER_STATE_DIR"] = saved
    return rows


def section(rows: list[dict]) -> list[str]:
    """The report's section: a heading and one table row per measurement."""
    lines = [
        "## Trusted re-check per submission per notebook (seconds, medians)",
        "",
        "| notebook | submission | forked s | fresh s | forked/fresh | score |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        score = ", ".join(sorted({f"{s:g} / {m:g}" for _key, s, m in row["scores"]}))
        lines.append(
            f"| {row['notebook']} | {row['submission']} | {row['warm']:.2f} | "
            f"{row['fresh']:.2f} | {row['warm'] / row['fresh']:.2f} | {score} |"
        )
    return [*lines, ""]


def targets(rows: list[dict]) -> list[str]:
    lines = []
    for row in rows:
        ok = row["warm"] < TARGET_SECONDS
        lines.append(
            f"- [{'x' if ok else ' '}] trusted re-check of {row['notebook']} "
            f"({row['submission']}): {row['warm']:.2f} s per submission "
            f"(target < {TARGET_SECONDS:g} s; fresh interpreter {row['fresh']:.2f} s)"
        )
    return lines


if __name__ == "__main__":
    import sys

    picked = sys.argv[1:] or None
    found = measure(only=picked)
    print("\n".join(section(found) + targets(found)))
