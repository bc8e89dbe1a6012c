"""The seeds of the graded checks' inputs (``autograder/HIDDEN_TESTS.md``).

A visible test's seed is public (anyone can recompute it from the
assignment and the check's name); a hidden test's is derived from the course
secret, which only the grader can read.
"""

from __future__ import annotations

import hashlib

from . import paths

__all__ = ["visible_seed", "hidden_seed"]


def _seed_from(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def visible_seed(assignment: str, name: str) -> int:
    """The public seed of a visible test: anyone can recompute it."""
    return _seed_from(f"visible/{assignment}/{name}")


def hidden_seed(assignment: str, name: str) -> int:
    """The seed of a hidden test, derived from the course secret."""
    return _seed_from(f"hidden/{paths.course_secret()}/{assignment}/{name}")
