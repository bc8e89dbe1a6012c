"""The trusted re-check: the parent side, which never executes student code.

For an assignment, a :class:`Session`

1. reads the source notebooks (``solutions/<assignment>/*.ipynb``), the check
   declarations and the withheld functions, and extracts each check's
   declared ``call`` (:func:`~autograder.trusted.program.extract_harness`);
2. makes every check's inputs from its visible and its hidden seed, as plain
   arrays, and computes the expected outputs with dlcore, in this process:
   the child gets the inputs, never the expected outputs, the secret or the
   stored reference file;
3. proves itself on the solution notebook: the solutions, run through the
   same child, must get full marks, or the session refuses to grade
   (:class:`TrustedRecheckError`), so a bug here can never cost a student.

Everything the verdict depends on is read then and kept in memory (the
child's own code and inputs are written afresh for every run). Made before
``nbgrader autograde`` runs, with :meth:`Session.snapshot` of the submitted
notebooks, a session grades what was submitted even if student code in
nbgrader's kernels rewrites files on disk afterwards (where Landlock
does not confine them).

For each submitted notebook it builds the program
(:func:`~autograder.trusted.program.build_program`), runs it in a child
process (:mod:`~autograder.trusted.runner`), forked from the session's warm
server (:mod:`~autograder.trusted.forkserver`) and confined by
:mod:`~autograder.trusted.sandbox`, and compares what comes back with the
expected outputs using the declaration's own :meth:`Check.verdict` (the
comparison the test cells use). A test cell scores its points when all its
checks, visible and hidden, pass; zero otherwise (nbgrader's rule). The
hidden checks are scored *only* here: while autograding, the kernel defers
them (:func:`autograder.checks.check`), and what a failed hidden check
reports says which output is wrong and how, never a value computed from the
hidden inputs (:func:`autograder.checks.hidden_summary`).

A step that hangs (wall clock), ends the process (``os._exit``, a signal,
the CPU limit) or floods the output does not cost the other parts: the
child reports each step it starts and ends, and the parent runs it again
without the step that stopped it. A graded call that stopped it fails (with
the other calls of its test cell); a cell that stopped it is left out (what
it would have defined is missing).

:func:`recheck_assignment` runs a session over the submissions of an
assignment, writes the verdicts into nbgrader's gradebook
(:mod:`~autograder.trusted.gradebook`), scans each submission
(:mod:`~autograder.trusted.scan`) and records its progress per student, so
an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import atexit
import builtins
import hashlib
import importlib.util
import json
import os
import selectors
import shutil
import signal
import site
import subprocess
import sys
import sysconfig
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import numpy as np

from .. import checks, paths
from . import codec, forkserver, runner, sandbox
from .program import SourceNotebook, build_program, extract_harness, imported_modules
from .sandbox import Limits
from .scan import Flag, scan_notebook

__all__ = [
    "TRUSTED_VERSION",
    "TrustedRecheckError",
    "Session",
    "PartResult",
    "NotebookResult",
    "SubmissionResult",
    "Change",
    "RecheckReport",
    "recheck_assignment",
]

# Bumped when the re-check's rules change: completed students are redone.
TRUSTED_VERSION = 2

# Python started with -I (isolated: no PYTHON* variables, no user site, no
# script folder on sys.path) imports only the staged runner.
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from trusted_child.runner import main; main(sys.argv[2])"
)
_CHILD_FILES = ("runner.py", "codec.py", "sandbox.py", "forkserver.py")
# What every Python process needs to read besides its own installation.
_SYSTEM_READ = (
    "/usr",
    "/lib",
    "/lib64",
    "/bin",
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/dev/urandom",
    "/dev/zero",
    "/sys/devices/system/cpu",
)


class TrustedRecheckError(RuntimeError):
    """The re-check itself cannot be trusted to grade (never a student's fault)."""


# ---------------------------------------------------------------- results


@dataclass
class PartResult:
    """One test cell (nbgrader grade cell) of a notebook."""

    grade_id: str
    max_score: float
    trusted: float | None  # None: the re-check cannot redo this cell
    messages: list[str] = field(default_factory=list)
    unsupported: str = ""
    answer_cells: list[str] = field(default_factory=list)
    # failed, and only in hidden checks: the visible tests in the kernel
    # passed and the kernel left the hidden ones to the re-check
    hidden_only: bool = False


@dataclass
class NotebookResult:
    notebook: str
    parts: dict[str, PartResult]
    seconds: float = 0.0
    attempts: int = 0
    events: list[str] = field(default_factory=list)
    cell_errors: list[str] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    flags: list[Flag] = field(default_factory=list)
    missing: bool = False
    dropped: dict[str, str] = field(default_factory=dict)  # answer id -> why

    @property
    def score(self) -> float:
        return sum(p.trusted or 0.0 for p in self.parts.values())

    @property
    def max_score(self) -> float:
        return sum(p.max_score for p in self.parts.values())


@dataclass
class SubmissionResult:
    student: str
    assignment: str
    notebooks: list[NotebookResult]

    @property
    def score(self) -> float:
        return sum(nb.score for nb in self.notebooks)

    @property
    def max_score(self) -> float:
        return sum(nb.max_score for nb in self.notebooks)

    @property
    def flags(self) -> list[Flag]:
        return [f for nb in self.notebooks for f in nb.flags]

    @property
    def seconds(self) -> float:
        return sum(nb.seconds for nb in self.notebooks)

    def parts(self) -> dict[str, float | None]:
        """``{grade_id: trusted score}`` over all notebooks."""
        return {
            part.grade_id: part.trusted
            for nb in self.notebooks
            for part in nb.parts.values()
        }


@dataclass
class Change:
    """A grade the re-check changed in the gradebook."""

    student: str
    notebook: str
    grade_id: str
    nbgrader: float | None  # nbgrader's in-kernel (auto) score
    before: float | None  # the score the gradebook showed before
    trusted: float
    max_score: float
    hidden: bool = False  # a hidden test failed, the kernel's run deferred it

    def __str__(self) -> str:
        def fmt(x):
            return "no score" if x is None else f"{x:g}"

        if self.hidden:
            text = (
                f"{self.grade_id}: hidden test failed, trusted "
                f"{fmt(self.trusted)} / {fmt(self.max_score)}"
            )
        else:
            text = (
                f"{self.grade_id}: nbgrader {fmt(self.nbgrader)}, trusted "
                f"{fmt(self.trusted)} / {fmt(self.max_score)}"
            )
        if self.before != self.nbgrader:
            text += f" (gradebook showed {fmt(self.before)})"
        return text


@dataclass
class RecheckReport:
    assignment: str
    results: dict[str, SubmissionResult] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sandbox: dict = field(default_factory=dict)
    children: str = ""  # how the session started its children
    seconds: float = 0.0

    @property
    def changed_students(self) -> list[str]:
        return sorted({c.student for c in self.changes})

    @property
    def seconds_per_notebook(self) -> list[float]:
        return [
            nb.seconds
            for result in self.results.values()
            for nb in result.notebooks
            if not nb.missing
        ]

    def lines(self) -> list[str]:
        times = sorted(self.seconds_per_notebook)
        median = times[len(times) // 2] if times else 0.0
        confinement = ", ".join(f"{k} {v}" for k, v in self.sandbox.items())
        lines = [
            f"trusted re-check of {self.assignment}: {len(self.results)} "
            f"submission(s) re-checked, {len(self.skipped)} already done; "
            f"median {median:.2f} s per notebook; sandbox: {confinement or '-'}; "
            f"children: {self.children or '-'}"
        ]
        by_student: dict[str, list[Change]] = {}
        for change in self.changes:
            by_student.setdefault(change.student, []).append(change)
        for student, result in self.results.items():
            status = "agrees with the gradebook"
            if student in by_student:
                mine = by_student[student]
                label = "CHANGED" if any(not c.hidden for c in mine) else "SCORED"
                status = f"{label}: " + "; ".join(str(c) for c in mine)
            lines.append(
                f"  {student:<24} {result.score:>6g} / {result.max_score:<6g} {status}"
            )
            for nb in result.notebooks:
                for event in nb.events:
                    lines.append(f"      {nb.notebook}: {event}")
        for student, why in self.failed.items():
            lines.append(f"  {student:<24} NOT RE-CHECKED: {why}")
        for note in self.notes:
            lines.append(f"  note: {note}")
        flagged = {s: r.flags for s, r in self.results.items() if r.flags}
        if flagged:
            lines.append("suspicious code (static scan; flags only, not graded):")
            for student, flags in flagged.items():
                for flag in flags:
                    lines.append(f"  {student}: {flag}")
        if self.changed_students:
            lines.append(
                "grades changed by the trusted re-check (failed hidden tests, or "
                "where it disagrees with nbgrader; the trusted verdict is in the "
                "gradebook, with a comment): " + ", ".join(self.changed_students)
            )
        return lines

    def print(self, out: Callable[[str], None] = print) -> None:
        for line in self.lines():
            out(line)


# ------------------------------------------------------------ the child


@dataclass
class _Attempt:
    started: list[str] = field(default_factory=list)
    ended: set[str] = field(default_factory=set)
    current: str | None = None
    done: bool = False
    reason: str = ""  # why the process stopped before the end
    sandbox: dict = field(default_factory=dict)
    stdout: bytes = b""
    stderr: bytes = b""
    returncode: int | None = None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _stage_code(folder: Path, child_code: dict[str, bytes]) -> None:
    """Write the child's package (held in memory) into ``folder``."""
    package = folder / "trusted_child"
    package.mkdir(parents=True)
    for name, code in child_code.items():
        (package / name).write_bytes(code)
    (package / "__init__.py").write_text("")


# The fork servers of this process, one per course (and dlcore, Numba cache,
# child code), shared by its sessions: the autograde command makes one
# session per assignment, and warming up costs a few seconds.
_SERVERS: dict[tuple, forkserver.ForkServer] = {}


def _launch_server(root: Path, child_code: dict, numba_seed, environment):
    folder = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{os.getpid()}-server-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    _stage_code(folder / "stage", child_code)
    workdir = folder / "work"
    for sub in ("tmp", "numba", "mpl"):
        (workdir / sub).mkdir(parents=True)
    sandbox.copy_numba_seed(numba_seed(workdir / "numba"))
    _seed_font_list(workdir / "mpl")
    # what the course's notebooks import, so that no child pays for it;
    # never the course's own package (the children may not read it)
    modules = set()
    for path in sorted(root.glob("solutions/*/*.ipynb")):
        try:
            modules |= imported_modules(nbformat.read(path, as_version=4).cells)
        except Exception:  # an unreadable notebook: the session will say
            continue
    modules = sorted(m for m in modules if m.split(".")[0] != "autograder")
    server = forkserver.ForkServer(
        folder / "stage", workdir, environment(workdir), modules
    )
    atexit.register(server.close)
    return server


def _seed_font_list(folder: Path) -> None:
    """Give a new MPLCONFIGDIR this user's font list, if matplotlib made one.

    Otherwise importing pyplot there first searches the system's fonts
    (about 0.4 s). Only the fork server gets it, before it starts.
    """
    configured = os.environ.get("MPLCONFIGDIR")
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    for place in ([Path(configured)] if configured else []) + [
        Path(cache) / "matplotlib"
    ]:
        try:
            for found in place.glob("fontlist-v*.json"):
                shutil.copyfile(found, folder / found.name)
        except OSError:
            pass  # slower, not wrong


class _FreshChild:
    """A child started as a fresh ``python -I`` (no fork server)."""

    lost = False  # as ForkedChild: this process always learns how it ended

    def __init__(self, config: dict, stage: Path, workdir: Path, env, limits):
        config_path = workdir / "config.json"
        read_fd, write_fd = os.pipe()
        config_path.write_text(json.dumps({**config, "progress_fd": write_fd}))
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-c", _BOOT, str(stage), str(config_path)],
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(write_fd,),
                start_new_session=True,
                preexec_fn=sandbox.resource_limiter(limits),
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        self.pid = self.proc.pid
        self.stdout = self.proc.stdout.fileno()
        self.stderr = self.proc.stderr.fileno()
        self.progress = read_fd

    def poll(self) -> int | None:
        return self.proc.poll()

    def wait(self) -> int | None:
        return self.proc.wait()

    def close(self) -> None:
        os.close(self.progress)
        self.proc.stdout.close()
        self.proc.stderr.close()


_TMP_PREFIX = "trusted-recheck-"


def _remove_stale_sessions() -> None:
    """Remove the folders of sessions whose process died (e.g. was killed)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{_TMP_PREFIX}*-*"):
        pid = folder.name[len(_TMP_PREFIX) :].split("-")[0]
        if not pid.isdigit() or folder.stat().st_uid != os.getuid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (PermissionError, OSError):
            pass


def _inside(path: str, folder: str) -> bool:
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


class Session:
    """The trusted re-check of one assignment, ready to grade submissions.

    Parameters
    ----------
    course_root : path
        Holds ``solutions/<assignment>/``.
    assignment : str
    limits : Limits, optional
        Resource limits of each child process.
    require_landlock : bool, optional
        Refuse to grade when the kernel cannot confine the file system
        (default: require it where the kernel offers it).
    warm : bool, optional
        Fork each child from a warm server process that has imported dlcore
        and loaded its cached kernels (:mod:`.forkserver`; the default),
        rather than start a fresh interpreter for each (about a second more
        per notebook; also what the session falls back to if the server
        cannot start or breaks).
    """

    def __init__(
        self,
        course_root: str | os.PathLike,
        assignment: str,
        *,
        limits: Limits | None = None,
        require_landlock: bool | None = None,
        warm: bool = True,
    ):
        self.root = Path(course_root).resolve()
        self.assignment = assignment
        self.limits = limits or Limits()
        if require_landlock is None:
            require_landlock = sandbox.LANDLOCK_ABI > 0
        self.require = ["landlock"] if require_landlock else []
        module = checks.load_assignment(assignment)
        self.declarations = {c.name: c for c in getattr(module, "CHECKS", [])}
        self.withheld = list(getattr(module, "WITHHELD", []))
        folder = self.root / "solutions" / assignment
        self.sources = [
            SourceNotebook(p, assignment) for p in sorted(folder.glob("*.ipynb"))
        ]
        if not self.sources:
            raise TrustedRecheckError(f"no source notebook in {folder}")
        names = {c.check for s in self.sources for c in s.calls}
        self.problems = {
            n: "no such check is declared" for n in names if n not in self.declarations
        }
        self._module_source = Path(module.__file__).read_text()
        self._names = names
        self.built: set[str] = set()  # checks whose inputs the child makes
        self.harness = ""
        self.sandbox_report: dict = {}
        spec = importlib.util.find_spec("dlcore")
        self._dlcore_dirs = list(spec.submodule_search_locations or []) if spec else []
        here = Path(__file__).resolve().parent
        self._child_code = {n: (here / n).read_bytes() for n in _CHILD_FILES}
        self._snapshots: dict[tuple[str, str], bytes | None] = {}
        self._warm = warm
        self._server: forkserver.ForkServer | None = None
        self._server_starts = 0
        self._server_key = (  # sessions with the same key share a server
            str(self.root),
            tuple(self._dlcore_dirs),
            str(paths.numba_cache_dir()),
            hashlib.sha256(repr(sorted(self._child_code.items())).encode()).digest(),
        )
        self.children = "fresh interpreters" if not warm else ""
        _remove_stale_sessions()
        self._tmp = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{os.getpid()}-"))
        try:
            if self._warm:  # one per process; warms up while this one works
                self._share_or_launch_server()
            self.expected, self._input_files = self._prepare_inputs(
                names - set(self.problems)
            )
            self.harness, problems = extract_harness(
                self._module_source, names - set(self.problems), build=self.built
            )
            self.problems.update(problems)
            self._read = self._read_paths()
            self._check_isolation()
            self.digest = self._digest()
            self.calibration = [self._calibrate(s) for s in self.sources]
        except BaseException:
            self.close()
            raise

    # -- preparation -----------------------------------------------------

    def _stage(self, folder: Path) -> None:
        """Write the child's code and the inputs (both held in memory) afresh.

        Written for every notebook run from what this process read when the
        session began, so nothing on disk that student code could have
        touched since (e.g. in nbgrader's kernels) is used.
        """
        _stage_code(folder, self._child_code)
        inputs = folder / "inputs"
        inputs.mkdir()
        for name, data in self._input_files.items():
            (inputs / name).write_bytes(data)

    def _prepare_inputs(self, names: Iterable[str]) -> tuple[dict, dict]:
        """Expected outputs, and the inputs as the files the child will read.

        Inputs that are not plain data (e.g. a dlcore model) cannot cross
        the boundary: for such a check the child gets the seeded generator
        instead and makes the inputs itself with the declaration's
        ``make_inputs`` (extracted into the harness like ``call``). That
        tells the child nothing it would not see in the inputs themselves.
        """
        expected = {}
        folder = Path(tempfile.mkdtemp(dir=self._tmp, prefix="inputs-"))
        for name in sorted(names):
            declared = self.declarations[name]
            for hidden in (False, True):
                key = f"{name}.{'hidden' if hidden else 'visible'}"
                seed = (checks.hidden_seed if hidden else checks.visible_seed)(
                    self.assignment, name
                )
                if name in self.built:
                    codec.dump({"rng": np.random.default_rng(seed)}, folder, key)
                else:
                    try:
                        codec.dump(declared.inputs(seed), folder, key)
                    except codec.CodecError:
                        self.built.add(name)
                        for stale in folder.glob(f"{key}.*"):
                            stale.unlink()
                        codec.dump({"rng": np.random.default_rng(seed)}, folder, key)
                expected[key] = declared.expected(seed)
        files = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
        shutil.rmtree(folder)
        return expected, files

    def _read_paths(self) -> list[str]:
        found = {sys.base_prefix, sys.prefix, sys.base_exec_prefix, sys.exec_prefix}
        found.update(site.getsitepackages())
        for key in ("stdlib", "platstdlib", "purelib", "platlib"):
            found.add(sysconfig.get_paths()[key])
        found.update(self._dlcore_dirs)
        shared = paths.numba_cache_dir()
        if shared is not None and shared.is_dir():
            found.add(str(shared))
        found.update(_SYSTEM_READ)
        resolved = set()
        for path in found:
            resolved.add(path)
            resolved.add(os.path.realpath(path))
        return sorted(p for p in resolved if os.path.exists(p))

    def _numba_seed(self, private: Path) -> list[list[str]]:
        return sandbox.numba_cache_seed(
            private, paths.numba_cache_dir(), self._dlcore_dirs
        )

    def _check_isolation(self) -> None:
        """The child must not be able to read the course's private state."""
        private = [
            paths.state_dir(),
            self.root / "solutions",
            Path(checks.__file__).resolve().parent,
        ]
        for secret in private:
            for allowed in self._read:
                if _inside(str(secret), allowed):
                    raise TrustedRecheckError(
                        f"{secret} lies inside {allowed}, which the isolated "
                        "process must read: move the course state elsewhere "
                        "(AUTOGRADER_STATE_DIR)"
                    )

    def _digest(self) -> str:
        digest = hashlib.sha256(f"trusted-recheck/{TRUSTED_VERSION}".encode())
        for source in self.sources:
            digest.update(source.raw)
        digest.update(self.harness.encode())
        digest.update(repr(sorted(self.withheld)).encode())
        for name, data in self._input_files.items():
            digest.update(name.encode())
            digest.update(data)
        return digest.hexdigest()

    def _calibrate(self, source: SourceNotebook) -> NotebookResult:
        result = self._run_notebook(source, source.nb)
        wrong = [
            f"{p.grade_id}: " + "; ".join(p.messages)
            for p in result.parts.values()
            if p.trusted is not None and p.trusted != p.max_score
        ]
        if wrong:
            raise TrustedRecheckError(
                f"the trusted re-check does not give the solution of "
                f"{self.assignment}/{source.name} full marks, so it cannot grade "
                "it:\n  " + "\n  ".join(wrong + result.events + result.cell_errors)
            )
        return result

    # -- running ---------------------------------------------------------

    @staticmethod
    def _environment(workdir: Path) -> dict[str, str]:
        """The child's whole environment: nothing of the grader's."""
        return {
            "PATH": "/usr/bin:/bin",
            "HOME": str(workdir),
            "TMPDIR": str(workdir / "tmp"),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "NUMBA_CACHE_DIR": str(workdir / "numba"),
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": str(workdir / "mpl"),
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "NUMBA_NUM_THREADS": "1",
        }

    def _share_or_launch_server(self) -> bool:
        """Use this process's server, or start one if it died; False: gave up."""
        server = _SERVERS.get(self._server_key)
        if server is not None and (server.alive or not server.ready):
            self._server = server  # running, or still warming up
            return True
        if self._server_starts >= 3:
            self._give_up_server("the fork server stopped three times")
            return False
        self._launch_server()
        return True

    def _launch_server(self) -> None:
        """Start a fork server; it warms up while this process goes on."""
        self._server_starts += 1
        self._server = _SERVERS[self._server_key] = _launch_server(
            self.root,
            self._child_code,
            self._numba_seed,
            self._environment,
        )

    def _give_up_server(self, why: str) -> None:
        if self._server is not None:
            self._server.close()
            if _SERVERS.get(self._server_key) is self._server:
                del _SERVERS[self._server_key]
        self._server = None
        self._warm = False
        self.children = f"fresh interpreters ({why})"
        print(
            f"trusted re-check: {why}; starting a fresh interpreter per notebook "
            "instead",
            file=sys.stderr,
        )

    def _fork_server(self) -> forkserver.ForkServer | None:
        """The ready fork server, started (again) if need be; None: fresh."""
        if not self._warm or not self._share_or_launch_server():
            return None
        try:
            self._server.wait_ready()
        except forkserver.ForkServerError as err:
            self._give_up_server(str(err))
            return None
        self.children = (
            f"forked from a warm interpreter ({self._server.kernels} cached "
            f"kernels loaded in {self._server.warmup_seconds:.1f} s)"
        )
        return self._server

    def _start_child(self, config: dict, stage: Path, workdir: Path):
        """Start the child that runs ``config``: forked if possible, else fresh."""
        env = self._environment(workdir)
        server = self._fork_server()
        if server is not None:
            config_path = workdir / "config.json"
            forked = {**config, "progress_fd": forkserver.PROGRESS_FD}
            config_path.write_text(json.dumps(forked))
            try:
                return server.spawn(str(config_path), str(workdir), env, self.limits)
            except forkserver.ForkServerError:
                pass  # started again for the next notebook
        config = {**config, "numba_seed": self._numba_seed(workdir / "numba")}
        return _FreshChild(config, stage, workdir, env, self.limits)

    def _attempt(
        self, steps: list[dict], skip: set[str], stage: Path, workdir: Path
    ) -> _Attempt:
        for sub in ("out", "tmp", "numba", "mpl"):
            (workdir / sub).mkdir(parents=True)
        config = {
            "read": [*self._read, str(stage)],
            "write": [str(workdir), "/dev/null"],
            "require": self.require,
            "out": str(workdir / "out"),
            "inputs": str(stage / "inputs"),
            "harness": self.harness,
            "withheld": self.withheld,
            "numba_seed": [],  # a forked child has the kernels loaded already
            "steps": steps,
            "skip": sorted(skip),
        }
        attempt = _Attempt()
        child = self._start_child(config, stage, workdir)
        try:
            self._watch(child, attempt)
        finally:
            if child.poll() is None:
                _kill_group(child.pid)
            attempt.returncode = child.wait()
            child.close()
        if child.lost and not (attempt.done or attempt.reason):
            # the grader lost the server, not the student: run it again afresh
            shutil.rmtree(workdir)
            workdir.mkdir()
            return self._attempt(steps, skip, stage, workdir)
        if not attempt.reason and not attempt.done:
            code = attempt.returncode
            if code == runner.EXIT_NO_SANDBOX:
                raise TrustedRecheckError(
                    f"the isolated process could not confine itself: {attempt.sandbox}"
                )
            if code is not None and code < 0:
                name = _signal_name(-code)
                attempt.reason = (
                    "used up its CPU time"
                    if name in ("SIGXCPU", "SIGKILL")
                    else f"was killed by {name}"
                )
            else:
                attempt.reason = f"ended the process (exit status {code})"
        return attempt

    def _watch(self, child, attempt: _Attempt):
        limits = self.limits
        selector = selectors.DefaultSelector()
        selector.register(child.stdout, selectors.EVENT_READ, "stdout")
        selector.register(child.stderr, selectors.EVENT_READ, "stderr")
        selector.register(child.progress, selectors.EVENT_READ, "progress")
        kept = {"stdout": bytearray(), "stderr": bytearray()}
        pending = b""
        start = time.monotonic()
        step_start = start
        open_streams = 3
        kill_deadline = None
        try:
            while open_streams:
                now = time.monotonic()
                if kill_deadline is None:
                    step_deadline = step_start + limits.step_seconds
                    attempt_deadline = start + limits.attempt_seconds
                    deadline = min(step_deadline, attempt_deadline)
                    if now >= deadline:
                        if attempt_deadline <= step_deadline:
                            attempt.reason = (
                                f"ran over {limits.attempt_seconds:g} s in all"
                            )
                        else:
                            attempt.reason = (
                                f"did not finish within {limits.step_seconds:g} s"
                            )
                        _kill_group(child.pid)
                        kill_deadline = now + 5.0
                        continue
                else:
                    deadline = kill_deadline
                    if now >= deadline:
                        break  # something still holds a pipe open: give up
                for key, _ in selector.select(timeout=max(deadline - now, 0.0)):
                    data = os.read(key.fd, 1 << 16)
                    if not data:
                        selector.unregister(key.fd)
                        open_streams -= 1
                        continue
                    if key.data != "progress":
                        room = limits.output_bytes - len(kept[key.data])
                        if room > 0:
                            kept[key.data] += data[:room]
                        continue
                    if len(pending) > 1 << 20:
                        continue  # flooded: ignore the rest
                    pending += data
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        text = line.decode(errors="replace")
                        tag, _, rest = text.partition(" ")
                        if tag == "S":
                            attempt.current = rest
                            attempt.started.append(rest)
                            step_start = time.monotonic()
                        elif tag == "E":
                            attempt.ended.add(rest)
                            attempt.current = None
                            step_start = time.monotonic()
                        elif tag == "D":
                            attempt.done = True
                        elif tag == "B" and not attempt.sandbox:
                            try:
                                attempt.sandbox = dict(json.loads(rest))
                            except (ValueError, TypeError):
                                pass
        finally:
            selector.close()
        attempt.stdout = bytes(kept["stdout"])
        attempt.stderr = bytes(kept["stderr"])

    def _run_notebook(self, source: SourceNotebook, submitted) -> NotebookResult:
        start = time.perf_counter()
        program = build_program(source, submitted)
        supported = {
            s.id
            for s in program.steps
            if s.kind == "call" and s.call.check not in self.problems
        }
        steps = [
            s.to_json() for s in program.steps if s.kind == "cell" or s.id in supported
        ]
        labels = {s.id: s.label for s in program.steps}
        same_cell: dict[str, list[str]] = {}
        for s in program.steps:
            if s.id in supported:
                same_cell.setdefault(s.call.grade_id, []).append(s.id)
        cells_of = {i: ids for ids in same_cell.values() for i in ids}
        result = NotebookResult(source.name, {})
        received: dict[str, object] = {}  # step -> value, or an error dict
        skip: set[str] = set()
        stdout, stderr = b"", b""
        run = Path(tempfile.mkdtemp(dir=self._tmp, prefix="run-"))
        self._stage(run / "stage")
        try:
            while True:
                result.attempts += 1
                workdir = Path(tempfile.mkdtemp(dir=run, prefix="work-"))
                try:
                    attempt = self._attempt(
                        steps, skip | set(received), run / "stage", workdir
                    )
                    self._collect(workdir / "out", attempt, supported, received, result)
                finally:
                    shutil.rmtree(workdir, ignore_errors=True)
                if attempt.sandbox and not self.sandbox_report:
                    self.sandbox_report = attempt.sandbox
                stdout += attempt.stdout
                stderr += attempt.stderr
                if attempt.done:
                    break
                culprit = attempt.current
                if culprit is None:
                    if not attempt.started:
                        raise TrustedRecheckError(
                            "the isolated process failed before running any step "
                            f"({attempt.reason}):\n"
                            + attempt.stderr.decode(errors="replace")[-2000:]
                        )
                    result.events.append(
                        f"the process {attempt.reason} between steps; "
                        "the checks not yet run fail"
                    )
                    break
                result.events.append(
                    f"{labels.get(culprit, culprit)}: {attempt.reason}; "
                    "ran the notebook again without it"
                )
                skip.add(culprit)
                label = labels.get(culprit, "")
                if label.startswith("answer "):
                    result.dropped[label.removeprefix("answer ")] = attempt.reason
                if culprit in supported:
                    received[culprit] = {
                        "type": "Stopped",
                        "message": f"your code {attempt.reason}",
                    }
                    # the test cell fails as a whole: its other calls need not run
                    for other in cells_of.get(culprit, ()):
                        received.setdefault(
                            other,
                            {
                                "type": "Stopped",
                                "message": "not run (another check of this test "
                                "cell stopped the process)",
                            },
                        )
                elapsed = time.perf_counter() - start
                if elapsed > self.limits.notebook_seconds:
                    result.events.append(
                        f"gave up after {elapsed:.0f} s; the checks not yet run fail"
                    )
                    break
        finally:
            shutil.rmtree(run, ignore_errors=True)
        result.stdout = stdout.decode(errors="replace")[: self.limits.output_bytes]
        result.stderr = stderr.decode(errors="replace")[: self.limits.output_bytes]
        self._score(source, program, received, result)
        result.seconds = time.perf_counter() - start
        return result

    def _collect(self, out: Path, attempt, supported, received, result) -> None:
        for step in attempt.ended:
            error_file = out / f"{step}.cell.json"
            if error_file.is_file() and error_file.stat().st_size < 1 << 16:
                try:
                    error = json.loads(error_file.read_text())
                    text = f"{step}: {error['type']}: {str(error['message'])[:300]}"
                except (ValueError, KeyError, TypeError):
                    text = f"{step}: (unreadable error)"
                if text not in result.cell_errors:
                    result.cell_errors.append(text)
            if step not in supported or step in received:
                continue
            error_file = out / f"{step}.error.json"
            if error_file.is_file():
                try:
                    if error_file.stat().st_size > 1 << 16:
                        raise ValueError("too large")
                    error = json.loads(error_file.read_text())
                    received[step] = {
                        "type": str(error["type"])[:100],
                        "message": str(error["message"])[:2000],
                    }
                except (ValueError, KeyError, TypeError):
                    received[step] = {"type": "Error", "message": "(unreadable)"}
                continue
            try:
                received[step] = ("value", codec.load(out, step))
            except (OSError, codec.CodecError) as err:
                received[step] = {
                    "type": "Unreadable",
                    "message": f"what your code returned cannot be read back: {err}",
                }

    def _verdict(self, call, value) -> str | None:
        """None if the call passed, else what the student may be told.

        For a hidden call the message holds nothing computed from the
        hidden inputs (:func:`autograder.checks.hidden_summary`): not the
        values, not what the student's code returned or the text of what
        it raised.
        """
        declared = self.declarations[call.check]
        if isinstance(value, dict):
            kind, message = value["type"], value["message"]
            if kind == "WithheldFunctionError":
                if call.hidden:
                    return "your code called a withheld dlcore function"
                return f"your code called a withheld dlcore function: {message}"
            if kind == "NotImplementedError":
                return "not implemented yet (NotImplementedError)"
            if kind == "Stopped":  # the parent's own words
                return message
            if kind == "Unreadable":
                return (
                    "what your code returned cannot be read back"
                    if (call.hidden)
                    else message
                )
            if call.hidden:
                builtin = isinstance(getattr(builtins, kind, None), type)
                return f"your code raised {kind if builtin else 'an exception'}"
            return f"your code raised {kind}: {message}"
        try:
            message = declared.verdict(self.expected[call.key], value[1])
        except Exception as err:  # a custom compare choking on the value
            if call.hidden:
                return "what your code returned cannot be compared"
            return f"what your code returned cannot be compared: {err}"
        if message is not None and call.hidden:
            return checks.hidden_summary(declared, message)
        return message

    def _score(self, source, program, received, result: NotebookResult) -> None:
        by_cell: dict[str, list] = {}
        for step in program.steps:
            if step.kind == "call":
                by_cell.setdefault(step.call.grade_id, []).append(step)
        for grade_id, spec in source.grade_cells.items():
            part = PartResult(
                grade_id, spec.points, None, answer_cells=list(spec.answer_cells)
            )
            result.parts[grade_id] = part
            why = spec.unsupported or next(
                (
                    f"check {c.check!r}: {self.problems[c.check]}"
                    for c in spec.calls
                    if c.check in self.problems
                ),
                "",
            )
            if why:
                part.unsupported = why
                continue
            passed = True
            kinds = set()
            for answer in spec.answer_cells:
                if answer in result.dropped:
                    kinds.add("visible")
                    part.messages.append(
                        f"the answer cell {answer} {result.dropped[answer]} and was "
                        "left out, so what it defines is missing"
                    )
            for step in by_cell.get(grade_id, []):
                value = received.get(step.id)
                if value is None:
                    message = "the check did not run"
                else:
                    message = self._verdict(step.call, value)
                if message is not None:
                    passed = False
                    kind = "hidden" if step.call.hidden else "visible"
                    kinds.add(kind)
                    part.messages.append(
                        f"check {step.call.check!r} ({kind} test): {message}"
                    )
            part.trusted = spec.points if passed else 0.0
            part.hidden_only = kinds == {"hidden"}

    def unscored_hidden(self) -> list[str]:
        """Test cells with hidden tests that this re-check cannot redo.

        Nobody scores those hidden tests (the kernel defers them), so the
        instructor command lists their submissions for manual grading.
        """
        found = []
        for source in self.sources:
            for cell in source.cells:
                meta = cell.get("metadata", {}).get("nbgrader", {})
                spec = source.grade_cells.get(meta.get("grade_id", ""))
                if spec is None or "BEGIN HIDDEN TESTS" not in cell.source:
                    continue
                if spec.unsupported or any(
                    c.check in self.problems for c in spec.calls
                ):
                    found.append(f"{source.name}/{spec.grade_id}")
        return found

    # -- grading ---------------------------------------------------------

    def snapshot(
        self, submissions: str | os.PathLike, students: Iterable[str] | None = None
    ) -> list[str]:
        """Read the submitted notebooks now, before nbgrader runs any of them.

        Student code running unconfined in nbgrader's kernels could rewrite
        the files in ``submissions`` (its own or anyone's); the re-check then
        grades these bytes. Returns the students found.
        """
        submissions = Path(submissions)
        if students is None:
            students = sorted(
                d.name
                for d in (submissions.iterdir() if submissions.is_dir() else [])
                if (d / self.assignment).is_dir()
            )
        students = list(students)
        for student in students:
            folder = submissions / student / self.assignment
            for source in self.sources:
                path = folder / f"{source.name}.ipynb"
                data = path.read_bytes() if path.is_file() else None
                self._snapshots[(student, source.name)] = data
        return students

    def _submitted(self, student: str | None, source, path: Path) -> bytes | None:
        key = (student, source.name)
        if key in self._snapshots:
            return self._snapshots[key]
        return path.read_bytes() if path.is_file() else None

    def recheck_notebook(
        self, source: SourceNotebook, path: os.PathLike, *, student: str | None = None
    ) -> NotebookResult:
        """Re-check one submitted notebook (missing or unreadable: zero)."""
        data = self._submitted(student, source, Path(path))
        submitted = None
        problem = "the notebook was not submitted"
        if data is not None:
            try:
                submitted = nbformat.reads(data.decode(), as_version=4)
            except Exception as err:  # a broken file is the student's zero
                problem = f"the notebook cannot be read ({type(err).__name__})"
        if submitted is None:
            result = NotebookResult(source.name, {}, missing=True, events=[problem])
            self._score(source, build_program(source, None), {}, result)
            for part in result.parts.values():
                if part.trusted is not None:
                    part.messages = [problem]
            return result
        result = self._run_notebook(source, submitted)
        result.flags = scan_notebook(source, submitted, self.withheld)
        return result

    def recheck_submission(
        self, student: str, notebooks: Mapping[str, os.PathLike]
    ) -> SubmissionResult:
        """Re-check a submission: ``notebooks[name]`` is the submitted file."""
        results = [
            self.recheck_notebook(source, notebooks[source.name], student=student)
            for source in self.sources
        ]
        return SubmissionResult(student, self.assignment, results)

    def fingerprint(
        self, student: str, notebooks: Mapping[str, os.PathLike], extra=()
    ) -> str:
        """Identifies a submission's re-check: same fingerprint, same verdict."""
        digest = hashlib.sha256(self.digest.encode())
        for source in self.sources:
            data = self._submitted(student, source, Path(notebooks[source.name]))
            digest.update(source.name.encode())
            digest.update(b"<missing>" if data is None else data)
        for path in extra:
            path = Path(path)
            digest.update(path.read_bytes() if path.is_file() else b"<none>")
        return digest.hexdigest()

    def close(self) -> None:
        self._server = None  # shared: it stays for the next session
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ------------------------------------------------------------- the run


def _state_path(state_dir: Path, assignment: str) -> Path:
    return state_dir / "trusted" / f"{assignment}.json"


def load_state(state_dir: Path, assignment: str) -> dict:
    path = _state_path(state_dir, assignment)
    try:
        state = json.loads(path.read_text())
        if isinstance(state, dict) and isinstance(state.get("students"), dict):
            return state
    except (OSError, ValueError):
        pass
    return {"version": TRUSTED_VERSION, "students": {}}


def _save_state(state_dir: Path, assignment: str, state: dict) -> None:
    path = _state_path(state_dir, assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def recheck_assignment(
    course_root: str | os.PathLike,
    assignment_id: str,
    students: Iterable[str] | None = None,
    *,
    submissions: str | os.PathLike | None = None,
    db_url: str | None = None,
    state_dir: str | os.PathLike | None = None,
    limits: Limits | None = None,
    resume: bool = True,
    write: bool = True,
    out: Callable[[str], None] | None = print,
    session: Session | None = None,
) -> RecheckReport:
    """Re-check an assignment's submissions and let the verdict decide.

    Call it after ``nbgrader autograde`` (the instructor's ``autograde``
    command does). For each student with a folder
    ``<submissions>/<student>/<assignment_id>/``, the submitted notebooks
    are re-checked in an isolated process; where the trusted score of a
    test cell differs from the gradebook's, it is written into nbgrader's
    gradebook as the manual score with a comment saying why (see
    :func:`autograder.trusted.gradebook.write_verdicts`), so formgrader and
    the CSV export show it.

    Resumable: after each student the verdict is committed to the
    gradebook, then recorded in ``<state dir>/trusted/<assignment>.json``
    with a fingerprint of everything it depends on (the submitted and
    autograded notebooks, the source notebook, the declarations, the
    hidden inputs). A student whose fingerprint is recorded is skipped, so
    a run that crashed midway picks up where it stopped and loses nothing.

    Parameters
    ----------
    course_root : path holding ``solutions/``.
    assignment_id : str
    students : names, optional (default: every submission found).
    submissions : folder laid out ``<student>/<assignment>/*.ipynb``
        (default: nbgrader's submitted directory of the course).
    db_url : nbgrader gradebook (default: the course's).
    state_dir : where the progress file goes (default: the course state).
    limits : :class:`~autograder.trusted.sandbox.Limits` of each child.
    resume : skip students already re-checked with the same fingerprint.
    write : write verdicts into the gradebook (False: only report).
    out : where progress lines go (None: silent).
    session : a :class:`Session` of this assignment made *before*
        ``nbgrader autograde`` ran (with :meth:`Session.snapshot` of the
        submissions): then nothing the verdict depends on (source notebook,
        declarations, expected outputs, the submitted notebooks, the child's
        code) is read after student code ran unconfined in nbgrader's
        kernels. Left open. Default: a new session, closed at the end.

    Returns
    -------
    RecheckReport
        Per student the trusted scores, the grades it changed, the scan's
        flags and the time taken; ``report.print()`` prints it.
    """
    from ..nbgrader_config import course_config
    from . import gradebook

    started = time.perf_counter()
    say = out or (lambda line: None)
    root = Path(course_root).resolve()
    config = course_config(root)
    db_url = db_url or config.CourseDirectory.db_url
    submissions = Path(submissions or config.CourseDirectory.submitted_directory)
    autograded = Path(config.CourseDirectory.autograded_directory)
    state_dir = Path(state_dir) if state_dir else paths.state_dir()
    if students is None:
        students = sorted(
            d.name
            for d in (submissions.iterdir() if submissions.is_dir() else [])
            if (d / assignment_id).is_dir()
        )
    report = RecheckReport(assignment_id)
    state = load_state(state_dir, assignment_id)
    owned = session is None
    if owned:
        session = Session(root, assignment_id, limits=limits)
    elif session.assignment != assignment_id:
        raise ValueError(
            f"a session of {session.assignment!r} cannot re-check {assignment_id!r}"
        )
    try:
        report.sandbox = session.sandbox_report
        report.children = session.children
        for source in session.sources:
            for spec in source.grade_cells.values():
                why = spec.unsupported or next(
                    (
                        session.problems[c.check]
                        for c in spec.calls
                        if c.check in session.problems
                    ),
                    "",
                )
                if why:
                    report.notes.append(
                        f"{source.name}/{spec.grade_id} keeps nbgrader's score: {why}"
                    )
        for student in students:
            folder = submissions / student / assignment_id
            notebooks = {s.name: folder / f"{s.name}.ipynb" for s in session.sources}
            graded = [
                autograded / student / assignment_id / f"{s.name}.ipynb"
                for s in session.sources
            ]
            fingerprint = session.fingerprint(student, notebooks, graded)
            entry = state["students"].get(student)
            if (
                resume
                and entry
                and entry.get("fingerprint") == fingerprint
                and entry.get("status") == "done"
            ):
                report.skipped.append(student)
                continue
            try:
                result = session.recheck_submission(student, notebooks)
                changes, notes = [], []
                if write:
                    changes, notes = gradebook.write_verdicts(
                        db_url, assignment_id, student, result
                    )
            except TrustedRecheckError:
                raise
            except Exception as err:  # one broken submission never stops the rest
                report.failed[student] = f"{type(err).__name__}: {err}"
                say(f"  {student}: NOT RE-CHECKED ({err})")
                traceback.print_exc()
                continue
            report.results[student] = result
            report.changes += changes
            report.notes += [f"{student}: {n}" for n in notes]
            state["students"][student] = {
                "fingerprint": fingerprint,
                "status": "done",
                "score": result.score,
                "max_score": result.max_score,
                "parts": result.parts(),
                "changed": [str(c) for c in changes],
                "flags": [str(f) for f in result.flags],
                "seconds": round(result.seconds, 3),
                "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            }
            _save_state(state_dir, assignment_id, state)
            mark = " (grade changed)" if changes else ""
            say(
                f"  trusted {student}: {result.score:g} / {result.max_score:g} "
                f"in {result.seconds:.2f} s{mark}"
            )
    finally:
        if owned:
            session.close()
    report.seconds = time.perf_counter() - started
    return report
