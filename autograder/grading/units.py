"""The work units of a grading run: one student's submission of one assignment.

A unit is identified by ``(assignment, student)`` and carries the content
hash of what it grades: the submission folder's regular files (names and
bytes) and the assignment's source notebooks. The ledger
(:mod:`.ledger`) stores that hash once the unit is graded, so a run
grades again only what is new or changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..safe_files import regular_files

__all__ = ["Unit", "content_hash", "plan_units"]


@dataclass(frozen=True)
class Unit:
    """One student x one assignment, and the hash of what is graded."""

    assignment: str
    student: str
    digest: str

    @property
    def key(self) -> str:
        """The unit's name in logs and Dask task keys."""
        return f"{self.student}/{self.assignment}"


def _folder_digest(digest, folder: Path) -> None:
    """Feed the regular files of ``folder`` (sorted by relative name)."""
    if not folder.is_dir():
        digest.update(b"<no folder>")
        return
    for path in sorted(regular_files(folder)):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")


def content_hash(root: Path, submissions: Path, assignment: str, student: str) -> str:
    """What a grade depends on that can change between runs: the submission
    and the assignment's source notebooks (declarations live with them)."""
    digest = hashlib.sha256(f"{assignment}\0{student}\0".encode())
    for source in sorted((root / "solutions" / assignment).glob("*.ipynb")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    _folder_digest(digest, submissions / student / assignment)
    return digest.hexdigest()


def plan_units(
    root: Path, submissions: Path, students: Mapping[str, Iterable[str]]
) -> list[Unit]:
    """The units of ``students`` (``{assignment: students}``), in order."""
    return [
        Unit(assignment, student, content_hash(root, submissions, assignment, student))
        for assignment in students
        for student in students[assignment]
    ]
