"""The child process of the trusted re-check: runs one submission's program.

Forked by the session's warm server (:mod:`.forkserver`), or started by
:mod:`autograder.trusted.recheck` as a fresh ``python -I``, in an empty
working directory with a scrubbed environment and resource limits. It
imports nothing of ``autograder`` (the parent copies this file,
:mod:`codec`, :mod:`sandbox` and :mod:`forkserver` into a private folder,
the only code it loads besides the standard library, NumPy and dlcore), and
it never sees a reference output or the course secret: the parent keeps
them.

In order:

1. read the configuration the parent wrote, then confine itself for good
   (:func:`sandbox.confine`) before any student code is read;
2. guard the dlcore functions the assignment withholds: whenever a
   ``dlcore`` module is imported (also by ``importlib`` or ``__import__``),
   each withheld function is replaced, in every dlcore module, by a guard
   that raises ``WithheldFunctionError`` unless its caller is dlcore itself
   (the first import also copies the course's Numba cache into the
   child's private one);
3. define the declared ``call`` functions (the *harness*) in a namespace of
   their own, and the ``make_inputs`` of checks whose inputs are not plain
   data (e.g. a dlcore model): those it makes itself from the seeded
   generator the parent wrote;
4. run the steps in the notebook's namespace: cells with ``exec``; a graded
   call by evaluating its ``fn`` expression, loading its inputs
   (``allow_pickle=False``) and writing back what the declared call returned
   as plain arrays (:func:`codec.dump`); an exception is written back as
   its type and message. Around each step it writes ``S <id>`` and
   ``E <id>`` to the progress pipe, so the parent knows which step hung or
   ended the process; ``D`` when all is done.

Nothing the child writes is trusted: the parent compares the numbers.
"""

from __future__ import annotations

import builtins
import importlib.abc
import json
import os
import signal
import sys
import traceback

from . import codec, sandbox

_write = os.write  # kept before student code can replace os.write

EXIT_INTERNAL = 70  # the runner itself failed (not the submission)
EXIT_NO_SANDBOX = 71  # a required confinement is unavailable


class WithheldFunctionError(RuntimeError):
    """A withheld dlcore function was called by the submission."""


class _Progress:
    def __init__(self, fd: int):
        self.fd = fd

    def emit(self, line: str) -> None:
        try:
            _write(self.fd, (line + "\n").encode())
        except OSError:  # the student closed it: the parent copes
            pass


def _describe(err: BaseException) -> dict:
    try:
        message = str(err)
    except Exception:
        message = "<the exception's message could not be read>"
    return {"type": type(err).__name__, "message": message[:2000]}


def _write_json(path: str, data: dict) -> None:
    with open(path, "w") as fh:
        json.dump(data, fh)


# ------------------------------------------------------------ withholding


class _Withholder(importlib.abc.MetaPathFinder):
    """Guards withheld dlcore functions as soon as dlcore is imported."""

    def __init__(self, withheld, numba_seed):
        self.withheld = list(withheld)
        self.numba_seed = list(numba_seed)
        self.guards: dict[int, tuple] = {}  # id(original) -> (original, guard)
        self.dlcore_dir = None
        self._cache_ready = False
        self._inside_dirs: dict[str, bool] = {}

    def _prepare_cache(self) -> None:
        """A private copy of the course's Numba cache: fast, and unpoisonable."""
        if not self._cache_ready:
            self._cache_ready = True
            sandbox.copy_numba_seed(self.numba_seed)

    def find_spec(self, name, path, target=None):
        if name != "dlcore" and not name.startswith("dlcore."):
            return None
        self._prepare_cache()
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _GuardingLoader(spec.loader, self)
        return spec

    def _inside_dlcore(self, filename: str) -> bool:
        inside = self._inside_dirs.get(filename)
        if inside is None:
            real = os.path.realpath(filename)
            inside = self.dlcore_dir is not None and real.startswith(self.dlcore_dir)
            self._inside_dirs[filename] = inside
        return inside

    def _guard(self, original, dotted: str):
        inside = self._inside_dlcore

        def guarded(*args, **kwargs):
            if inside(sys._getframe(1).f_code.co_filename):
                return original(*args, **kwargs)
            raise WithheldFunctionError(
                f"{dotted} is withheld while this assignment is graded: the cell "
                "asks for your own implementation."
            )

        for attr in ("__name__", "__qualname__", "__doc__", "__module__"):
            try:
                setattr(guarded, attr, getattr(original, attr))
            except (AttributeError, TypeError):
                pass
        return guarded

    def apply(self) -> None:
        root = sys.modules.get("dlcore")
        if root is not None and self.dlcore_dir is None:
            location = getattr(root, "__file__", None)
            if location:
                self.dlcore_dir = os.path.dirname(os.path.realpath(location)) + os.sep
        modules = [
            m
            for n, m in list(sys.modules.items())
            if m is not None and (n == "dlcore" or n.startswith("dlcore."))
        ]
        for dotted in self.withheld:
            module_name, _, attr = dotted.rpartition(".")
            module = sys.modules.get(module_name)
            original = getattr(module, attr, None) if module is not None else None
            if original is None or id(original) in self.guards:
                continue
            if any(original is pair[1] for pair in self.guards.values()):
                continue
            self.guards[id(original)] = (original, self._guard(original, dotted))
        for module in modules:
            for key, value in list(vars(module).items()):
                pair = self.guards.get(id(value))
                if pair is not None and value is pair[0]:
                    setattr(module, key, pair[1])


class _GuardingLoader(importlib.abc.Loader):
    """Runs the real loader, then guards what the new module exposes."""

    def __init__(self, loader, withholder: _Withholder):
        self._loader = loader
        self._withholder = withholder

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        self._withholder.apply()

    def __getattr__(self, name):
        return getattr(self._loader, name)


# ------------------------------------------------------------------ main


def run(config: dict) -> None:
    progress = _Progress(int(config["progress_fd"]))
    applied = sandbox.confine(config["read"], config["write"], processes=True)
    progress.emit("B " + json.dumps(applied))
    if "landlock" in config.get("require", ()) and not str(
        applied.get("landlock", "")
    ).startswith("ABI"):
        raise SystemExit(EXIT_NO_SANDBOX)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill

    out = config["out"]
    inputs = config["inputs"]
    # guard first: dlcore imported by the harness is guarded as well
    withholder = _Withholder(config["withheld"], config.get("numba_seed", ()))
    sys.meta_path.insert(0, withholder)
    withholder.apply()
    harness: dict = {"__name__": "trusted_harness", "__builtins__": builtins}
    exec(compile(config["harness"], "<declared calls>", "exec"), harness)
    calls = harness["CALLS"]
    # checks whose inputs are not plain data: made here from the seeded
    # generator the parent wrote, with the declaration's make_inputs
    makers = harness.get("MAKERS", {})

    namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
    skip = set(config["skip"])
    for step in config["steps"]:
        if step["id"] in skip:
            continue
        progress.emit(f"S {step['id']}")
        stem = os.path.join(out, step["id"])
        if step["kind"] == "cell":
            try:
                code = compile(step["code"], f"<{step['label']}>", "exec")
                exec(code, namespace)
            except BaseException as err:  # SystemExit included: keep going
                _write_json(stem + ".cell.json", _describe(err))
        else:
            try:
                arguments = codec.load(inputs, step["inputs"])
                if step["check"] in makers:
                    arguments = dict(makers[step["check"]](arguments["rng"]))
                fn = eval(compile(step["expr"], "<test cell>", "eval"), namespace)
                value = calls[step["check"]](fn, **arguments)
                codec.dump(value, out, step["id"])
            except BaseException as err:
                _write_json(stem + ".error.json", _describe(err))
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        progress.emit(f"E {step['id']}")
    progress.emit("D")


def main(config_path: str) -> None:
    """Entry point: ``python -I -c '...; main(config_path)'``."""
    status = EXIT_INTERNAL
    try:
        with open(config_path) as fh:
            config = json.load(fh)
        run(config)
        status = 0
    except SystemExit as stop:
        status = stop.code if isinstance(stop.code, int) else EXIT_INTERNAL
    except BaseException:
        traceback.print_exc()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    os._exit(status)  # no atexit handlers or threads of the submission
