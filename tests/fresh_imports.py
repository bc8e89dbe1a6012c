"""What a fresh interpreter has imported after running some statements:
for tests that keep an expensive library out of an import."""

from __future__ import annotations

import json
import subprocess
import sys

from harness import CELL_SECONDS


def packages_imported_after(statements: str) -> set[str]:
    """The top-level packages in ``sys.modules`` of a new interpreter once it
    has run ``statements``."""
    code = (
        "import json, sys\n" + statements + "\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=CELL_SECONDS,
        check=True,
    )
    return set(json.loads(proc.stdout))
