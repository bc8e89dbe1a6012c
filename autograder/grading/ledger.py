"""Which units are graded: the resume state of grading runs.

One JSON file per gradebook in ``<state dir>/grading/`` (named by a hash
of the gradebook's URL, so a password in it is never written down):
``{assignment: {student: content hash}}``. The coordinator records a unit
only after every gradebook write of that unit has been committed, and
replaces the file atomically (a new file renamed over the old), so a run
killed at any moment leaves a ledger that lists only finished units: the
next run grades the rest, and what changed since (another hash).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .units import Unit

__all__ = ["Ledger", "LEDGER_VERSION"]

LEDGER_VERSION = 1


class Ledger:
    """The graded units of one gradebook, kept in ``folder``."""

    def __init__(self, folder: Path, db_url: str):
        name = hashlib.sha256(db_url.encode()).hexdigest()[:16]
        self.path = Path(folder) / f"ledger-{name}.json"
        self._graded: dict[str, dict[str, str]] = {}
        if self.path.is_file():
            data = json.loads(self.path.read_text())
            if data.get("version") == LEDGER_VERSION:
                self._graded = data["graded"]

    def is_graded(self, unit: Unit) -> bool:
        """Graded already, with the same content."""
        return self._graded.get(unit.assignment, {}).get(unit.student) == unit.digest

    def record(self, unit: Unit) -> None:
        """Mark ``unit`` graded (call once its gradebook writes committed)."""
        self._graded.setdefault(unit.assignment, {})[unit.student] = unit.digest
        self._save()

    def forget(self, unit: Unit) -> None:
        """The unit must be graded again (it failed)."""
        if self._graded.get(unit.assignment, {}).pop(unit.student, None):
            self._save()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        data = {"version": LEDGER_VERSION, "graded": self._graded}
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, self.path)
