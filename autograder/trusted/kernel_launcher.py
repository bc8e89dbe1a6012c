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

# Never handed to a kernel: hidden seeds derive from it.
SCRUBBED = ("AUTOGRADER_SECRET",)
# Extra folders kernels may not read (os.pathsep-separated), e.g. the
# submissions folder; set by `python -m autograder autograde`.
DENY_ENV = "AUTOGRADER_KERNEL_DENY"


def denied_paths() -> list[Path]:
    """What a confined kernel may not read: the course state (secret, hidden
    references, gradebook, other students' work), ``solutions/`` and the
    folders listed in :data:`DENY_ENV`."""
    from .. import paths

    denied = [paths.state_dir(), paths.course_root() / "solutions"]
    extra = os.environ.get(DENY_ENV, "")
    denied += [Path(p) for p in extra.split(os.pathsep) if p]
    return denied


def _needed(dlcore_dirs: list[str]) -> list[str]:
    """Folders every kernel must read (a denied folder must not hold them)."""
    here = Path(__file__).resolve().parents[1]  # the autograder package
    return [sys.prefix, sys.base_prefix, str(here), *dlcore_dirs]


def holds_needed(folder: str | os.PathLike) -> str | None:
    """A folder kernels must read that ``folder`` holds (None: none)."""
    spec = importlib.util.find_spec("dlcore")
    dlcore_dirs = list(spec.submodule_search_locations or []) if spec else []
    folder = os.path.realpath(folder)
    for needed in _needed(dlcore_dirs):
        needed = os.path.realpath(needed)
        if needed == folder or needed.startswith(folder.rstrip(os.sep) + os.sep):
            return needed
    return None


def main(argv: list[str] | None = None) -> None:
    from .. import paths

    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        raise SystemExit(__doc__.strip().splitlines()[0])
    options, command = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    if os.environ.get("NBGRADER_EXECUTION") == "validate":
        # The instructor validating the solution notebooks: their hidden
        # tests run in the kernel and need the course state. Not confined.
        os.execvp(command[0], command)
    if options[:1] == ["--private"] and len(options) == 2:
        private = Path(options[1])  # made (and removed) by the kernel manager
    else:
        private = Path(tempfile.mkdtemp(prefix="autograder-kernel-"))
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    for variable, sub in (
        ("TMPDIR", "tmp"),
        ("IPYTHONDIR", "ipython"),
        ("MPLCONFIGDIR", "matplotlib"),
        ("XDG_CACHE_HOME", "cache"),
        ("NUMBA_CACHE_DIR", "numba"),
    ):
        (private / sub).mkdir(exist_ok=True)
        env[variable] = str(private / sub)
    sandbox.seed_font_list(private / "matplotlib")
    spec = importlib.util.find_spec("dlcore")
    dlcore_dirs = list(spec.submodule_search_locations or []) if spec else []
    sandbox.copy_numba_seed(
        sandbox.numba_cache_seed(
            private / "numba", paths.numba_cache_dir(), dlcore_dirs
        )
    )
    denied = [os.path.realpath(p) for p in denied_paths()]
    for folder in denied:
        needed = holds_needed(folder)
        if needed:
            raise SystemExit(
                f"autograder: {folder}, which kernels may not read, holds "
                f"{needed}, which they need: keep the course state elsewhere "
                "(AUTOGRADER_STATE_DIR)"
            )
    read, list_only = sandbox.readable_except(denied)
    write = [str(private), "/dev/null"]
    here = os.path.realpath(os.getcwd())
    if any(d == here or d.startswith(here.rstrip(os.sep) + os.sep) for d in denied):
        # Rights on a folder reach everything beneath: not the course state.
        print(
            f"autograder: the kernel's folder {here} holds the course state: "
            "the kernel may not write there",
            file=sys.stderr,
        )
    else:
        write.insert(0, here)
    applied = sandbox.confine(read, write, listen=True, list_only=list_only)
    if not str(applied.get("landlock", "")).startswith("ABI"):
        print(f"autograder: kernel NOT confined ({applied})", file=sys.stderr)
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    main()
