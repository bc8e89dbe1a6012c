"""The child process of the trusted re-check: runs one submission's program.

Forked by the session's warm server (:mod:`.forkserver`), or started by
:mod:`autograder.trusted.recheck` as a fresh ``python -I``, in an empty
working directory with a scrubbed environment and resource limits. It
imports nothing of ``autograder`` (the parent stages a private copy of this
file, :mod:`.protocol`, :mod:`.codec`, :mod:`.sandbox`, :mod:`.forkserver`
and :mod:`autograder.withhold`: the only code it loads besides the standard
library, NumPy and dlcore; see :mod:`.children`), and
it never sees a reference output or the course secret: the parent keeps
them.

In order:

1. read the :class:`~.protocol.ChildConfig` the parent wrote;
2. a child *with dlcore*: every dlcore module is loaded (a fresh child
   imports them now, after copying the course's Numba cache into its
   private one), then the definitions the assignment withholds are deleted
   (:func:`autograder.withhold.remove`) and what was done is reported; a
   reference to one that is still reachable stops the child here. A child
   *without dlcore*: :class:`autograder.withhold.RefuseDlcore` answers any
   import of it;
3. confine itself for good (:func:`sandbox.confine`: dlcore's files are
   not readable in either kind) before any student code is read;
4. define the declared ``call`` functions (the *harness*) in a namespace of
   their own, and the ``make_inputs`` of checks whose inputs are not plain
   data (e.g. a dlcore model): those it makes itself from the seeded
   generator the parent wrote;
5. run the steps in the notebook's namespace: cells with ``exec``; a graded
   call by evaluating its ``fn`` expression, loading its inputs
   (``allow_pickle=False``) and writing back what the declared call returned
   as plain arrays (:func:`codec.dump`); an exception is written back as
   an :class:`~.protocol.ErrorRecord`. Around each step it reports the
   start and the end on the progress pipe, so the parent knows which step
   hung or ended the process, and when all is done (:mod:`.protocol`).

Nothing the child writes is trusted: the parent compares the numbers.
"""

from __future__ import annotations

import builtins
import json
import os
import signal
import sys
import traceback

from .. import withhold
from . import codec, protocol, sandbox

_write = os.write  # kept before student code can replace os.write


class _Progress:
    def __init__(self, fd: int):
        self.fd = fd

    def emit(self, event: str, argument: str = "") -> None:
        try:
            _write(self.fd, protocol.progress_line(event, argument))
        except OSError:  # the student closed it: the parent copes
            pass


def _record(err: BaseException) -> protocol.ErrorRecord:
    withheld = isinstance(err, withhold.DlcoreUnavailable)
    return protocol.ErrorRecord.of(err, withheld=withheld)


def _write_record(path: str, record: protocol.ErrorRecord) -> None:
    with open(path, "w") as fh:
        fh.write(record.to_json())


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass


def _confine(config: protocol.ChildConfig, progress: _Progress) -> None:
    applied = sandbox.confine(
        config.read, config.write, processes=True, list_only=config.list_only
    )
    progress.emit(protocol.CONFINED, json.dumps(applied))
    if "landlock" in config.require and not str(applied.get("landlock", "")).startswith(
        "ABI"
    ):
        raise SystemExit(protocol.EXIT_NO_SANDBOX)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill


def _run_step(step: protocol.ChildStep, config, namespace, calls, makers) -> None:
    stem = os.path.join(config.out, step.id)
    if step.kind == protocol.CELL:
        try:
            exec(compile(step.code, f"<{step.label}>", "exec"), namespace)
        except BaseException as err:  # SystemExit included: keep going
            _write_record(stem + protocol.CELL_ERROR, _record(err))
        return
    try:
        arguments = codec.load(config.inputs, step.inputs)
        if step.check in makers:
            arguments = dict(makers[step.check](arguments["rng"]))
        fn = eval(compile(step.expr, "<test cell>", "eval"), namespace)
        value = calls[step.check](fn, **arguments)
        codec.dump(value, config.out, step.id)
    except BaseException as err:
        _write_record(stem + protocol.CALL_ERROR, _record(err))


def _import_dlcore(seed) -> None:
    """Every dlcore module (a forked child has them already): once confined,
    the child cannot read dlcore's files."""
    import importlib
    import pkgutil

    if "dlcore" not in sys.modules:
        sandbox.copy_numba_seed(seed)
    import dlcore

    for info in pkgutil.walk_packages(dlcore.__path__, "dlcore."):
        importlib.import_module(info.name)


def _prepare_dlcore(config: protocol.ChildConfig, progress: _Progress) -> None:
    """With dlcore: the withheld definitions deleted. Without: none at all."""
    if not config.dlcore:
        if any(withhold.is_dlcore(name) for name in sys.modules):
            raise SystemExit(protocol.EXIT_INTERNAL)  # the wrong server
        sys.meta_path.insert(0, withhold.RefuseDlcore())
        return
    _import_dlcore(config.numba_seed)
    removal = withhold.remove(config.withheld)
    progress.emit(protocol.WITHHELD, json.dumps(removal.as_dict()))
    if removal.reachable or removal.missing:
        raise SystemExit(protocol.EXIT_INTERNAL)  # the parent refuses to grade


def run(config: protocol.ChildConfig) -> None:
    progress = _Progress(config.progress_fd)
    _prepare_dlcore(config, progress)
    _confine(config, progress)
    harness: dict = {"__name__": "trusted_harness", "__builtins__": builtins}
    exec(compile(config.harness, "<declared calls>", "exec"), harness)
    calls = harness["CALLS"]
    # checks whose inputs are not plain data: made here from the seeded
    # generator the parent wrote, with the declaration's make_inputs
    makers = harness.get("MAKERS", {})

    namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
    skip = set(config.skip)
    for step in config.steps:
        if step.id in skip:
            continue
        progress.emit(protocol.STEP_STARTED, step.id)
        _run_step(step, config, namespace, calls, makers)
        _flush()
        progress.emit(protocol.STEP_ENDED, step.id)
    progress.emit(protocol.DONE)


def main(config_path: str) -> None:
    """Entry point: ``python -I -c '...; main(config_path)'``."""
    status = protocol.EXIT_INTERNAL
    try:
        with open(config_path) as fh:
            config = protocol.ChildConfig.from_json(fh.read())
        run(config)
        status = 0
    except SystemExit as stop:
        status = stop.code if isinstance(stop.code, int) else protocol.EXIT_INTERNAL
    except BaseException:
        traceback.print_exc()
    _flush()
    os._exit(status)  # no atexit handlers or threads of the submission
