"""``python -m autograder.trusted.kernel_launcher [--private DIR] -- <command>``.

Confines itself (see :mod:`autograder.trusted.kernel`), then ``exec``\\ s the
kernel command, which inherits the confinement for good.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path

from . import sandbox


def main(argv: list[str] | None = None) -> None:
    from .. import paths

    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        raise SystemExit(__doc__.strip().splitlines()[0])
    options, command = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    if options[:1] == ["--private"] and len(options) == 2:
        private = Path(options[1])  # made (and removed) by the kernel manager
    else:
        private = Path(tempfile.mkdtemp(prefix="autograder-kernel-"))
    env = dict(os.environ)
    for variable, sub in (
        ("TMPDIR", "tmp"),
        ("IPYTHONDIR", "ipython"),
        ("MPLCONFIGDIR", "matplotlib"),
        ("XDG_CACHE_HOME", "cache"),
        ("NUMBA_CACHE_DIR", "numba"),
    ):
        (private / sub).mkdir(exist_ok=True)
        env[variable] = str(private / sub)
    spec = importlib.util.find_spec("dlcore")
    dlcore_dirs = list(spec.submodule_search_locations or []) if spec else []
    sandbox.copy_numba_seed(
        sandbox.numba_cache_seed(
            private / "numba", paths.numba_cache_dir(), dlcore_dirs
        )
    )
    applied = sandbox.confine(
        ["/"], [os.getcwd(), str(private), "/dev/null"], listen=True
    )
    if not str(applied.get("landlock", "")).startswith("ABI"):
        print(f"autograder: kernel NOT confined ({applied})", file=sys.stderr)
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    main()
