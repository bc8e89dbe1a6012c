"""What the parent and the child of the trusted re-check say to each other.

Both sides import this module: the parent from the ``autograder`` package,
the child from the private copy it is staged with (like :mod:`.codec`), so
it imports nothing but the standard library.

* The parent writes a :class:`ChildConfig` (JSON) before the child starts:
  what the child may read and write, whether it has dlcore, the harness,
  the withheld definitions and the :class:`ChildStep` list to run.
* The child reports on its progress pipe, one line per event
  (:func:`progress_line`, :func:`parse_progress`): :data:`CONFINED` with the
  layers of confinement it applied, :data:`WITHHELD` (a child with dlcore,
  before that) with what it deleted and any reference to a withheld
  definition still reachable, :data:`STEP_STARTED` and
  :data:`STEP_ENDED` around each step, :data:`DONE` at the end. A step that
  started and never ended is the one that hung or ended the process.
* The child writes what each step produced into its output folder: for a
  call, the returned value (:mod:`.codec`) or an :class:`ErrorRecord` in
  ``<step><CALL_ERROR>``; for a cell that raised, one in ``<step><CELL_ERROR>``.
* Its exit status: 0, :data:`EXIT_INTERNAL` or :data:`EXIT_NO_SANDBOX`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

__all__ = [
    "CONFINED",
    "WITHHELD",
    "STEP_STARTED",
    "STEP_ENDED",
    "DONE",
    "CELL_ERROR",
    "CALL_ERROR",
    "EXIT_INTERNAL",
    "EXIT_NO_SANDBOX",
    "PROGRESS_FD",
    "CELL",
    "CALL",
    "ChildStep",
    "ChildConfig",
    "ErrorRecord",
    "progress_line",
    "parse_progress",
]

# Progress events, child -> parent: "<event> <argument>\n".
CONFINED = "B"  # argument: JSON of the confinement applied
WITHHELD = "W"  # argument: JSON of withhold.Removal (a child with dlcore)
STEP_STARTED = "S"  # argument: the step's id
STEP_ENDED = "E"  # argument: the step's id
DONE = "D"  # every step ran

# Files in the child's output folder, named <step id><suffix>.
CELL_ERROR = ".cell.json"  # a cell raised: an ErrorRecord
CALL_ERROR = ".error.json"  # a graded call raised: an ErrorRecord

EXIT_INTERNAL = 70  # the runner itself failed (not the submission)
EXIT_NO_SANDBOX = 71  # a required confinement is unavailable

PROGRESS_FD = 3  # where a forked child finds the progress pipe

# The fork server's socket messages (one JSON object each), by key:
# server -> parent once, when warm;
SERVER_READY, SERVER_KERNELS, SERVER_THREADS = "ready", "kernels", "threads"
SERVER_SECONDS = "seconds"
# parent -> server, one per child (with its three descriptors);
FORK_CONFIG, FORK_CWD, FORK_ENV, FORK_LIMITS = "config", "cwd", "env", "limits"
# server -> parent, about that child; and whatever went wrong.
CHILD_PID, CHILD_RETURNCODE = "pid", "returncode"
SERVER_ERROR = "error"

# The kinds of step.
CELL = "cell"  # execute code in the notebook's namespace
CALL = "call"  # a graded call: evaluate `expr`, apply the declared call


@dataclass(frozen=True)
class ChildStep:
    """One step of the child's program (see :mod:`.program`)."""

    id: str
    kind: str  # CELL or CALL
    label: str
    code: str = ""  # CELL: the code to execute
    check: str = ""  # CALL: the declared check whose call applies
    expr: str = ""  # CALL: the expression giving the student's object
    inputs: str = ""  # CALL: the stem of the input files


@dataclass(frozen=True)
class ChildConfig:
    """Everything the child is told, written as JSON before it starts."""

    read: list[str]  # paths it may read
    list_only: list[str]  # folders it may only list (sandbox.readable_within)
    dlcore: bool  # it has dlcore (withheld definitions deleted); else none
    write: list[str]  # paths it may write
    require: list[str]  # confinements it must apply or exit EXIT_NO_SANDBOX
    out: str  # its output folder
    inputs: str  # the folder of the input files
    harness: str  # code defining CALLS (and MAKERS): see program.extract_harness
    withheld: list[str]  # dotted names of the withheld dlcore definitions
    steps: list[ChildStep]
    skip: list[str] = field(default_factory=list)  # step ids not to run
    numba_seed: list[list[str]] = field(default_factory=list)  # copied on import
    progress_fd: int = PROGRESS_FD

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ChildConfig:
        data = json.loads(text)
        data["steps"] = [ChildStep(**step) for step in data["steps"]]
        return cls(**data)


@dataclass(frozen=True)
class ErrorRecord:
    """What a step raised: the exception's type name and message.

    ``withheld``: it was :class:`autograder.withhold.DlcoreUnavailable`,
    dlcore used where the child has none (the child tells by type, not by
    name).
    """

    type: str
    message: str
    withheld: bool = False

    @classmethod
    def of(cls, err: BaseException, withheld: bool = False) -> ErrorRecord:
        try:
            message = str(err)
        except Exception:
            message = "<the exception's message could not be read>"
        return cls(type(err).__name__, message[:2000], withheld)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ErrorRecord:
        data = json.loads(text)
        return cls(
            str(data["type"]), str(data["message"]), data.get("withheld") is True
        )


def progress_line(event: str, argument: str = "") -> bytes:
    """The bytes the child writes to report ``event``."""
    return (f"{event} {argument}" if argument else event).encode() + b"\n"


def parse_progress(line: bytes) -> tuple[str, str]:
    """``(event, argument)`` of a line the child wrote (without its newline)."""
    event, _, argument = line.decode(errors="replace").partition(" ")
    return event, argument
