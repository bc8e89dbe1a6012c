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

For each submitted notebook and kind of check (``Check(needs_dlcore=...)``:
with dlcore, the withheld definitions deleted, or without any:
:mod:`autograder.withhold`) it builds the program
(:func:`~autograder.trusted.program.build_program`), runs it in a child
process of that kind (:mod:`~autograder.trusted.runner`; started by
:mod:`~autograder.trusted.children`, confined by
:mod:`~autograder.trusted.sandbox`), and scores what comes back
(:mod:`~autograder.trusted.scoring`) with the declarations' own comparison
(the one the test cells use). The hidden checks are scored *only* here:
``autograder/HIDDEN_TESTS.md``.

A step that hangs (wall clock), ends the process (``os._exit``, a signal,
the CPU limit) or floods the output does not cost the other parts: the
child reports each step it starts and ends, and the parent runs it again
without the step that stopped it. A graded call that stopped it fails (with
the other calls of its test cell); a cell that stopped it is left out (what
it would have defined is missing).

:func:`~autograder.trusted.assignment.recheck_assignment` runs a session
over the submissions of an assignment, writes the verdicts into nbgrader's gradebook
(:func:`autograder.gradebook.write_verdicts`), scans each submission
(:mod:`~autograder.trusted.scan`) and records its progress per student, so
an interrupted run resumes where it stopped
(:mod:`~autograder.trusted.results`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import site
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import nbformat
import numpy as np

from .. import declarations, paths
from ..safe_files import read_regular
from ..source import BEGIN_HIDDEN, grade_id
from . import codec, protocol, sandbox
from .attempts import ProgramRunner, TrustedRecheckError
from .children import (
    TMP_PREFIX,
    ChildLauncher,
    launch_server,
    read_child_code,
    remove_stale_folders,
    stage_code,
)
from .harness import extract_harness
from .program import Program, SourceNotebook, build_program, imported_modules
from .results import (
    TRUSTED_VERSION,
    NotebookResult,
    SubmissionResult,
)
from .sandbox import Limits
from .scan import scan_notebook
from .scoring import Scorer

__all__ = ["TrustedRecheckError", "Session"]

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


def _inside(path: str, folder: str) -> bool:
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _course_imports(root: Path) -> list[str]:
    """What the course's notebooks import (never the course's own package,
    which the children may not read): the fork server imports it ahead."""
    modules = set()
    for path in sorted(root.glob("solutions/*/*.ipynb")):
        try:
            modules |= imported_modules(nbformat.read(path, as_version=4).cells)
        except Exception:  # an unreadable notebook: the session will say
            continue
    return sorted(m for m in modules if m.split(".")[0] != "autograder")


def _regular_bytes(path: Path) -> bytes | None:
    """The file's bytes; None if missing, a link or a special file (a FIFO
    planted by student code must not block the grader)."""
    try:
        return read_regular(path.parent, path)
    except OSError:
        return None


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
        module = declarations.load_assignment(assignment)
        self.declarations = {c.name: c for c in getattr(module, "CHECKS", [])}
        self.withheld = list(getattr(module, "WITHHELD", []))
        # which checks run in a child with dlcore (the rest: without)
        self.needs_dlcore = {
            name: c.needs_dlcore for name, c in self.declarations.items()
        }
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
        self.built: set[str] = set()  # checks whose inputs the child makes
        spec = importlib.util.find_spec("dlcore")
        self._dlcore_dirs = list(spec.submodule_search_locations or []) if spec else []
        self._child_code = read_child_code()
        self._snapshots: dict[tuple[str, str], bytes | None] = {}
        remove_stale_folders()
        self._tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-"))
        # one launcher and runner per kind of child: True = with dlcore
        self._children: dict[bool, ChildLauncher] = {}
        self._runners: dict[bool, ProgramRunner] = {}
        try:
            runnable = names - set(self.problems)
            self.kinds = sorted({self.needs_dlcore[n] for n in runnable})
            for kind in self.kinds:
                self._children[kind] = self._launcher(warm, kind)
            self.expected, self._input_files = self._prepare_inputs(runnable)
            harnesses = self._harnesses(Path(module.__file__).read_text(), runnable)
            self.harness = "".join(harnesses.values())
            self.scorer = Scorer(
                self.declarations, self.expected, self.problems, assignment
            )
            self._read, self._list_only = self._read_paths()
            self._check_isolation()
            for kind in self.kinds:
                self._runners[kind] = ProgramRunner(
                    self._children[kind],
                    self.limits,
                    self._read,
                    self._list_only,
                    self.require,
                    harnesses[kind],
                    kind,
                    self.withheld if kind else [],
                    self._stage,
                    self._tmp,
                )
            self.digest = self._digest()
            self.calibration = [self._calibrate(s) for s in self.sources]
        except BaseException:
            self.close()
            raise

    @property
    def children(self) -> str:
        """How the session starts its children (for the report)."""
        kinds = {False: "without dlcore", True: "with dlcore"}
        described = [
            (kind, launcher.description) for kind, launcher in self._children.items()
        ]
        if len({d for _, d in described}) <= 1:
            return described[0][1] if described else ""
        return "; ".join(f"{kinds[k]}: {d}" for k, d in described)

    @property
    def sandbox_report(self) -> dict:
        """The confinement the children applied (empty before the first)."""
        for runner in self._runners.values():
            if runner.sandbox_report:
                return runner.sandbox_report
        return {}

    @property
    def server(self):
        """The fork server the session uses now (None: fresh interpreters);
        with both kinds, the one with dlcore."""
        launcher = self._children.get(True) or self._children.get(False)
        return launcher.server if launcher else None

    # -- preparation -----------------------------------------------------

    def _launcher(self, warm: bool, dlcore: bool) -> ChildLauncher:
        key = (  # sessions with the same key share a server
            str(self.root),
            tuple(self._dlcore_dirs),
            str(paths.numba_cache_dir()),
            hashlib.sha256(repr(sorted(self._child_code.items())).encode()).digest(),
            dlcore,
        )
        seed = self._numba_seed if dlcore else (lambda folder: [])

        def launch():
            modules = _course_imports(self.root)
            return launch_server(self._child_code, modules, seed, dlcore)

        return ChildLauncher(key, launch, seed, self.limits, warm)

    def _harnesses(self, code: str, runnable: set[str]) -> dict[bool, str]:
        """The declared calls of each kind of child (True: with dlcore)."""
        harnesses = {}
        for kind in self.kinds:
            mine = {n for n in runnable if self.needs_dlcore[n] == kind}
            harnesses[kind], problems = extract_harness(
                code, mine, build=self.built & mine
            )
            self.problems.update(problems)
        return harnesses

    def _stage(self, folder: Path) -> None:
        """Write the child's code and the inputs (both held in memory) afresh.

        Written for every notebook run from what this process read when the
        session began, so nothing on disk that student code could have
        touched since (e.g. in nbgrader's kernels) is used.
        """
        stage_code(folder, self._child_code)
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
                seed = (
                    declarations.hidden_seed if hidden else declarations.visible_seed
                )(self.assignment, name)
                if name in self.built:
                    codec.dump({"rng": np.random.default_rng(seed)}, folder, key)
                else:
                    try:
                        codec.dump(declared.given(seed), folder, key)
                    except codec.CodecError:
                        if declared.held_out:  # the child would make them
                            raise TrustedRecheckError(
                                f"check {name!r}: inputs that are not plain data "
                                "cannot be made in the child along with held-out "
                                f"ones {declared.held_out}"
                            ) from None
                        self.built.add(name)
                        for stale in folder.glob(f"{key}.*"):
                            stale.unlink()
                        codec.dump({"rng": np.random.default_rng(seed)}, folder, key)
                expected[key] = declared.expected(seed)
        files = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
        shutil.rmtree(folder)
        return expected, files

    def _read_paths(self) -> tuple[list[str], list[str]]:
        """What the children may read, and only list: Python and the system,
        never dlcore's package or the Numba cache (a child with dlcore has
        it loaded already; reading it would give a fresh copy of a withheld
        definition)."""
        found = {sys.base_prefix, sys.prefix, sys.base_exec_prefix, sys.exec_prefix}
        found.update(site.getsitepackages())
        for key in ("stdlib", "platstdlib", "purelib", "platlib"):
            found.add(sysconfig.get_paths()[key])
        found.update(_SYSTEM_READ)
        denied = [*self._dlcore_dirs]
        shared = paths.numba_cache_dir()
        if shared is not None:
            denied.append(str(shared))
        return sandbox.readable_within(sorted(found), denied)

    def _numba_seed(self, private: Path) -> list[list[str]]:
        return sandbox.numba_cache_seed(
            private, paths.numba_cache_dir(), self._dlcore_dirs
        )

    def _check_isolation(self) -> None:
        """The child must not be able to read the course's private state."""
        private = [
            paths.state_dir(),
            self.root / "solutions",
            Path(declarations.__file__).resolve().parent,
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
        digest.update(repr(sorted(self.needs_dlcore.items())).encode())
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

    def unscored_hidden(self) -> list[str]:
        """Test cells with hidden tests that this re-check cannot redo.

        Nobody scores those hidden tests (the kernel defers them), so the
        instructor command lists their submissions for manual grading.
        """
        found = []
        for source in self.sources:
            for cell in source.cells:
                spec = source.grade_cells.get(grade_id(cell) or "")
                if spec is None or BEGIN_HIDDEN not in cell.source:
                    continue
                if self.scorer.why_unsupported(spec):
                    found.append(f"{source.name}/{spec.grade_id}")
        return found

    def unsupported_notes(self) -> list[str]:
        """One line per test cell the re-check leaves to nbgrader, and why."""
        return [
            f"{source.name}/{spec.grade_id} keeps nbgrader's score: {why}"
            for source in self.sources
            for spec in source.grade_cells.values()
            if (why := self.scorer.why_unsupported(spec))
        ]

    def _run_notebook(self, source: SourceNotebook, submitted) -> NotebookResult:
        """Each kind of check in a child of its kind (with dlcore, without)."""
        start = time.perf_counter()
        result = NotebookResult(source.name, {})
        steps, received = [], {}
        for kind in self.kinds:
            program = build_program(
                source,
                submitted,
                include=lambda call, kind=kind: (
                    self.needs_dlcore.get(call.check, False) == kind
                ),
                prefix="d" if kind else "s",
            )
            steps += program.steps
            if any(step.kind == protocol.CALL for step in program.steps):
                received.update(self._runners[kind].run(program, self.problems, result))
        program = Program(steps)
        self.scorer.score(source, program, received, result)
        result.seconds = time.perf_counter() - start
        return result

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
            students = paths.submitted_students(submissions, self.assignment)
        students = list(students)
        for student in students:
            folder = submissions / student / self.assignment
            for source in self.sources:
                path = folder / f"{source.name}.ipynb"
                self._snapshots[(student, source.name)] = _regular_bytes(path)
        return students

    def _submitted(self, student: str | None, source, path: Path) -> bytes | None:
        key = (student, source.name)
        if key in self._snapshots:
            return self._snapshots[key]
        return _regular_bytes(path)

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
            self.scorer.score(source, build_program(source, None), {}, result)
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
        for path in extra:  # e.g. autograded notebooks, which a kernel wrote
            digest.update(_regular_bytes(Path(path)) or b"<none>")
        return digest.hexdigest()

    def close(self) -> None:
        for launcher in self._children.values():
            launcher.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
