"""Running a program in child processes until every step had its chance.

A :class:`ProgramRunner` runs a notebook's program (:mod:`.program`) in a
child (:mod:`.children`) and collects what each step left behind. A step
that hangs (wall clock), ends the process (``os._exit``, a signal, the CPU
limit) or floods the output does not cost the other parts: the child
reports each step it starts and ends (:mod:`.protocol`), and the program
runs again without the step that stopped it. A graded call that stopped it
fails (with the other calls of its test cell); a cell that stopped it is
left out (what it would have defined is missing).
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from . import codec, protocol
from .children import Child, ChildLauncher, kill_group
from .program import Program
from .results import NotebookResult
from .sandbox import Limits
from .scoring import Received, Returned, Stopped, Unreadable

__all__ = ["ProgramRunner", "TrustedRecheckError", "Attempt", "watch"]


class TrustedRecheckError(RuntimeError):
    """The re-check itself cannot be trusted to grade (never a student's fault)."""


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


# ------------------------------------------------------------ watching


@dataclass
class Attempt:
    """What one child process did, as its progress reports and exit tell."""

    started: list[str] = field(default_factory=list)
    ended: set[str] = field(default_factory=set)
    current: str | None = None  # the step running when it stopped
    done: bool = False
    reason: str = ""  # why the process stopped before the end (instructor)
    # ... in words that tell the student nothing the process chose (its
    # exit status or signal could encode hidden inputs): "" = as reason
    told: str = ""
    sandbox: dict = field(default_factory=dict)
    stdout: bytes = b""
    stderr: bytes = b""
    returncode: int | None = None
    # a child with dlcore: what its trusted code deleted, reported before it
    # confined itself (a report after that comes from student code: ignored)
    removal: dict | None = None

    @property
    def reachable(self) -> list[str]:
        """References to withheld definitions the child still held."""
        found = (self.removal or {}).get("reachable") or []
        missing = (self.removal or {}).get("missing") or []
        return [str(r) for r in found] + [f"{m}: not found" for m in missing]

    def record(self, event: str, argument: str) -> bool:
        """Take in one progress event; True if a step started or ended."""
        if event == protocol.STEP_STARTED:
            self.current = argument
            self.started.append(argument)
            return True
        if event == protocol.STEP_ENDED:
            self.ended.add(argument)
            self.current = None
            return True
        if event == protocol.DONE:
            self.done = True
        elif event == protocol.WITHHELD and not self.sandbox and not self.started:
            try:
                self.removal = dict(json.loads(argument))
            except (ValueError, TypeError):
                self.removal = {"reachable": ["an unreadable report"]}
        elif event == protocol.CONFINED and not self.sandbox:
            try:
                self.sandbox = dict(json.loads(argument))
            except (ValueError, TypeError):
                pass
        return False


def _timed_out(limits: Limits, start: float, step_start: float, now: float) -> str:
    """Why the child must be stopped now ("" if it may go on)."""
    step_deadline = step_start + limits.step_seconds
    attempt_deadline = start + limits.attempt_seconds
    if now < min(step_deadline, attempt_deadline):
        return ""
    if attempt_deadline <= step_deadline:
        return f"ran over {limits.attempt_seconds:g} s in all"
    return f"did not finish within {limits.step_seconds:g} s"


def watch(child: Child, limits: Limits, attempt: Attempt) -> None:
    """Follow ``child`` until its pipes close, killing it when it runs over.

    Its output is kept up to ``limits.output_bytes`` per stream; its
    progress goes into ``attempt``.
    """
    selector = selectors.DefaultSelector()
    selector.register(child.stdout, selectors.EVENT_READ, "stdout")
    selector.register(child.stderr, selectors.EVENT_READ, "stderr")
    selector.register(child.progress, selectors.EVENT_READ, "progress")
    kept = {"stdout": bytearray(), "stderr": bytearray()}
    pending = b""
    start = step_start = time.monotonic()
    open_streams = 3
    kill_deadline = None
    try:
        while open_streams:
            now = time.monotonic()
            if kill_deadline is None:
                why = _timed_out(limits, start, step_start, now)
                if why:
                    attempt.reason = why
                    kill_group(child.pid)
                    kill_deadline = now + 5.0
                    continue
                deadline = min(
                    step_start + limits.step_seconds, start + limits.attempt_seconds
                )
            elif now >= kill_deadline:
                break  # something still holds a pipe open: give up
            else:
                deadline = kill_deadline
            for key, _ in selector.select(timeout=max(deadline - now, 0.0)):
                data = os.read(key.fd, 1 << 16)
                if not data:
                    selector.unregister(key.fd)
                    open_streams -= 1
                elif key.data != "progress":
                    room = limits.output_bytes - len(kept[key.data])
                    if room > 0:
                        kept[key.data] += data[:room]
                elif len(pending) <= 1 << 20:  # beyond: flooded, ignored
                    pending += data
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        if attempt.record(*protocol.parse_progress(line)):
                            step_start = time.monotonic()
    finally:
        selector.close()
    attempt.stdout = bytes(kept["stdout"])
    attempt.stderr = bytes(kept["stderr"])


# ------------------------------------------------------------ running


class ProgramRunner:
    """Runs programs for a session: the same confinement, harness and inputs.

    Parameters
    ----------
    children : ChildLauncher
    limits : Limits
    read : paths the child may read (besides its staged code)
    list_only : folders it may only list (:func:`.sandbox.readable_within`)
    require : confinements the child must apply
    harness : the declared calls (:func:`.program.extract_harness`)
    dlcore : the children have dlcore (``withheld`` deleted), or none
    withheld : dotted names of the withheld dlcore definitions
    stage : callable ``folder -> None`` writing the child's code and inputs
    tmp : folder for the runs
    """

    def __init__(
        self,
        children: ChildLauncher,
        limits: Limits,
        read: list[str],
        list_only: list[str],
        require: list[str],
        harness: str,
        dlcore: bool,
        withheld: list[str],
        stage: Callable[[Path], None],
        tmp: Path,
    ):
        self.children = children
        self.limits = limits
        self.read = read
        self.list_only = list_only
        self.dlcore = dlcore
        self.require = require
        self.harness = harness
        self.withheld = withheld
        self.stage = stage
        self.tmp = tmp
        self.sandbox_report: dict = {}  # what the first child applied

    def run(
        self, program: Program, problems: Mapping[str, str], result: NotebookResult
    ) -> dict[str, Received]:
        """What each graded call of ``program`` gave; events, attempts, cell
        errors and output go into ``result``."""
        start = time.perf_counter()
        run = _ProgramRun(program, problems)
        stdout, stderr = b"", b""
        folder = Path(tempfile.mkdtemp(dir=self.tmp, prefix="run-"))
        self.stage(folder / "stage")
        try:
            while True:
                result.attempts += 1
                workdir = Path(tempfile.mkdtemp(dir=folder, prefix="work-"))
                try:
                    skip = run.skip | set(run.received)
                    attempt = self._attempt(run.steps, skip, folder / "stage", workdir)
                    _collect(workdir / "out", attempt, run, result)
                finally:
                    shutil.rmtree(workdir, ignore_errors=True)
                if attempt.sandbox and not self.sandbox_report:
                    self.sandbox_report = attempt.sandbox
                stdout += attempt.stdout
                stderr += attempt.stderr
                if attempt.done or not run.blame(attempt, result):
                    break
                elapsed = time.perf_counter() - start
                if elapsed > self.limits.notebook_seconds:
                    result.events.append(
                        f"gave up after {elapsed:.0f} s; the checks not yet run fail"
                    )
                    break
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        # a notebook may run in two children (with dlcore and without)
        result.stdout = (result.stdout + stdout.decode(errors="replace"))[
            : self.limits.output_bytes
        ]
        result.stderr = (result.stderr + stderr.decode(errors="replace"))[
            : self.limits.output_bytes
        ]
        return run.received

    def _attempt(
        self, steps: list, skip: set[str], stage: Path, workdir: Path
    ) -> Attempt:
        """Run the program once in a new child, without the steps in ``skip``."""
        for sub in ("out", "tmp", "numba", "mpl"):
            (workdir / sub).mkdir(parents=True)
        config = protocol.ChildConfig(
            read=[*self.read, str(stage)],
            list_only=self.list_only,
            dlcore=self.dlcore,
            write=[str(workdir), "/dev/null"],
            require=self.require,
            out=str(workdir / "out"),
            inputs=str(stage / "inputs"),
            harness=self.harness,
            withheld=self.withheld,
            steps=steps,
            skip=sorted(skip),
            numba_seed=[],  # a forked child has the kernels loaded already
        )
        attempt = Attempt()
        with self.children.start(config, stage, workdir) as child:
            try:
                watch(child, self.limits, attempt)
            finally:
                if child.poll() is None:
                    kill_group(child.pid)
                attempt.returncode = child.wait()
        if child.lost and not (attempt.done or attempt.reason):
            # the grader lost the server, not the student: run it again afresh
            shutil.rmtree(workdir)
            workdir.mkdir()
            return self._attempt(steps, skip, stage, workdir)
        if self.dlcore and attempt.sandbox and attempt.removal is None:
            raise TrustedRecheckError(
                "the child with dlcore confined itself without reporting the "
                "removal of the withheld definitions"
            )
        if attempt.reachable:
            raise TrustedRecheckError(
                "the withheld dlcore definitions could not all be removed, so "
                "the reference would be within the submission's reach: "
                + "; ".join(attempt.reachable)
            )
        if not attempt.reason and not attempt.done:
            code = attempt.returncode
            missing = self._missing_confinement(attempt)
            if missing:
                raise TrustedRecheckError(
                    f"the isolated process could not confine itself ({missing}): "
                    f"{attempt.sandbox}"
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
            if attempt.reason != "used up its CPU time":
                attempt.told = "ended the process"
        return attempt

    def _missing_confinement(self, attempt: Attempt) -> str:
        """The required confinement the child did not apply ("" if none).

        Read from the child's first report, which its trusted code sends
        after confining itself and before any student code runs; never from
        its exit status, which student code chooses (``os._exit(71)``).
        """
        if not attempt.sandbox:
            # no report at all: it stopped before confining, or in a step
            return "" if attempt.started else "no report of its confinement"
        landlock = str(attempt.sandbox.get("landlock", ""))
        if "landlock" in self.require and not landlock.startswith("ABI"):
            return f"landlock {landlock or 'not applied'}"
        return ""


def _collect(out: Path, attempt: Attempt, run, result) -> None:
    """Read what the steps the child ended left in ``out``."""
    for step in attempt.ended:
        error_file = out / f"{step}{protocol.CELL_ERROR}"
        if error_file.is_file() and error_file.stat().st_size < 1 << 16:
            error = _read_error(error_file)
            text = f"{step}: (unreadable error)"
            if error is not None:
                text = f"{step}: {error.type}: {error.message[:300]}"
            if text not in result.cell_errors:
                result.cell_errors.append(text)
        if step not in run.supported or step in run.received:
            continue
        error_file = out / f"{step}{protocol.CALL_ERROR}"
        if error_file.is_file():
            error = _read_error(error_file)
            run.received[step] = error or protocol.ErrorRecord("Error", "(unreadable)")
            continue
        try:
            run.received[step] = Returned(codec.load(out, step))
        except (OSError, codec.CodecError) as err:
            run.received[step] = Unreadable(
                f"what your code returned cannot be read back: {err}"
            )


def _read_error(path: Path) -> protocol.ErrorRecord | None:
    """An error record the child wrote (untrusted: capped; None if unreadable)."""
    try:
        if path.stat().st_size > 1 << 16:
            raise ValueError("too large")
        record = protocol.ErrorRecord.from_json(path.read_text())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return protocol.ErrorRecord(
        record.type[:100], record.message[:2000], record.withheld is True
    )


class _ProgramRun:
    """The state of running one program, over the attempts it takes."""

    def __init__(self, program, problems: Mapping[str, str]):
        self.supported = {
            s.id
            for s in program.steps
            if s.kind == protocol.CALL and s.call.check not in problems
        }
        self.steps = [
            s.for_child()
            for s in program.steps
            if s.kind == protocol.CELL or s.id in self.supported
        ]
        self.labels = {s.id: s.label for s in program.steps}
        same_cell: dict[str, list[str]] = {}
        for s in program.steps:
            if s.id in self.supported:
                same_cell.setdefault(s.call.grade_id, []).append(s.id)
        self.cells_of = {i: ids for ids in same_cell.values() for i in ids}
        self.received: dict[str, Received] = {}
        self.skip: set[str] = set()

    def blame(self, attempt: Attempt, result: NotebookResult) -> bool:
        """After an attempt that stopped early: leave out the step that
        stopped it; False when there is none to blame (the run ends)."""
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
            return False
        label = self.labels.get(culprit, "")
        result.events.append(
            f"{label or culprit}: {attempt.reason}; ran the notebook again without it"
        )
        self.skip.add(culprit)
        told = attempt.told or attempt.reason
        if label.startswith("answer "):
            result.dropped[label.removeprefix("answer ")] = told
        if culprit in self.supported:
            self.received[culprit] = Stopped(f"your code {told}")
            # the test cell fails as a whole: its other calls need not run
            for other in self.cells_of.get(culprit, ()):
                self.received.setdefault(
                    other,
                    Stopped(
                        "not run (another check of this test cell stopped the process)"
                    ),
                )
        return True
