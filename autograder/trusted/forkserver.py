"""A warm interpreter that the trusted re-check forks its children from.

A fresh ``python -I`` pays about a second before the first line of student
code runs: importing NumPy, Numba and dlcore, then loading the first cached
kernel (which initialises LLVM and makes Numba import SciPy's BLAS). For
an assignment that trains a small CNN that is more than the whole check.
So the grading process starts a server of each kind, shared by its
:class:`Sessions <autograder.trusted.recheck.Session>` (the registry:
:func:`autograder.trusted.children.ensure_running`), the way a fresh
child used to start (``python -I``, the same scrubbed environment), which
imports what the course's notebooks import and then, for each notebook
run, forks. The two kinds (``Check(needs_dlcore=...)``):

* *with dlcore*: it also imports every module of dlcore and loads every
  kernel in the course's Numba cache; its children delete the withheld
  definitions before any student code runs (:mod:`autograder.withhold`);
* *without dlcore*: dlcore is never imported in it (checked after warming
  up), so none of it is in its children's memory.

The server never runs student code: nothing but the grader's own imports has
run in it when it forks, and every child is a copy of that state, so nothing
passes from one submission to the next. Between the fork and the first line
of student code, the child (still trusted code) makes itself what a fresh
child was:

* its own session and process group (the parent kills the whole group),
  ``PR_SET_PDEATHSIG`` and the resource limits (:func:`sandbox.resource_limiter`;
  CPU time counts from the fork);
* stdin from ``/dev/null``, stdout, stderr and the progress pipe from the
  parent (passed over the socket with ``SCM_RIGHTS``), every other
  descriptor closed, among them the socket to the server;
* the child's empty working directory and scrubbed environment, and the
  places Python and Numba had read from the environment (``tempfile``,
  Numba's cache folder) set again from it; NumPy's global generator
  reseeded from the OS, as in a new interpreter;
* dlcore's kernels stop using the Numba cache: the ones loaded stay in
  memory, any other is compiled in the child and kept there (the server's
  cache folder is out of the child's reach, so it can neither poison it for
  the next child nor fail writing to it);

and then :func:`runner.main` confines it (Landlock, no new privileges,
capabilities, seccomp) before it reads the program, exactly as before.

The protocol, over a ``SOCK_SEQPACKET`` socket pair (one JSON message each;
the keys are named in :mod:`.protocol`):

* server -> parent, once: ``{"ready": ..., "kernels": n, "threads": n}``;
* parent -> server: ``{"config", "cwd", "env", "limits"}`` with three
  descriptors (stdout, stderr, progress), server -> parent ``{"pid": n}``,
  and when the child has ended ``{"returncode": n}`` (negative: the signal,
  as :attr:`subprocess.Popen.returncode`). One child at a time.

This module is the server, and runs only in it (staged with the child's
code). The parent's handle on it is
:class:`autograder.trusted.children.ForkServer`; when the server cannot
start or breaks, :class:`~autograder.trusted.children.ChildLauncher` starts
the children as fresh interpreters again.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import traceback

from . import protocol, runner, sandbox

__all__ = ["serve"]

_MESSAGE = 1 << 20


def _dlcore_dispatchers():
    """Every Numba dispatcher defined in dlcore's modules."""
    from numba.core.dispatcher import Dispatcher

    found = {}
    for name, module in list(sys.modules.items()):
        if module is None or not _is_dlcore(name):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, Dispatcher):
                found[id(value)] = value
    return list(found.values())


# What dlcore imports only when used: dlcore.data.load_digits takes about
# half a second importing scikit-learn's datasets.
_LAZILY_IMPORTED = ("sklearn.datasets",)


def _is_dlcore(name: str) -> bool:
    return name == "dlcore" or name.startswith("dlcore.")


def _import_modules(modules, dlcore: bool) -> None:
    """``modules``; with ``dlcore``, also every module of it and what it
    imports lazily (without: nothing of dlcore, even if they import it)."""
    import importlib
    import pkgutil

    names = [m for m in modules if not _is_dlcore(m)]
    if dlcore:
        import dlcore as package

        for info in pkgutil.walk_packages(package.__path__, "dlcore."):
            importlib.import_module(info.name)
        names = [*_LAZILY_IMPORTED, *names]
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # not installed, or not importable here: the child's
            pass


def _load_cached_kernels() -> int:
    """Load every kernel of dlcore found in the Numba cache; how many.

    ``Dispatcher.compile`` takes a signature from the cache before it
    compiles anything, so asking for each signature the cache index lists
    loads it; a signature whose entry is stale is compiled instead, which
    is slow once, never wrong.
    """
    loaded = 0
    for dispatcher in _dlcore_dispatchers():
        cache = getattr(dispatcher, "_cache", None)
        try:
            index = cache._cache_file._load_index()
            magic = dispatcher.targetctx.codegen().magic_tuple()
        except Exception:  # no cache, or a Numba whose internals moved
            continue
        for key in index:
            if key[1] != magic:
                continue
            try:
                dispatcher.compile(key[0])
                loaded += 1
            except Exception:
                pass
    return loaded


def _threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


def _send(sock: socket.socket, message: dict) -> None:
    sock.send(json.dumps(message).encode())


def _become_child(request: dict, fds: list[int]) -> None:
    """In the forked child: make the process what a fresh child would be."""
    status = protocol.EXIT_INTERNAL
    try:
        os.setsid()
        stdout, stderr, progress = fds
        stdin = os.open(os.devnull, os.O_RDONLY)
        # dup2 leaves no gap: each target is free or already one of ours
        for fd, target in (
            (stdin, 0),
            (stdout, 1),
            (stderr, 2),
            (progress, protocol.PROGRESS_FD),
        ):
            os.dup2(fd, target)
        os.closerange(
            protocol.PROGRESS_FD + 1, os.sysconf("SC_OPEN_MAX")
        )  # before NOFILE
        sandbox.resource_limiter(sandbox.Limits(**request[protocol.FORK_LIMITS]))()
        os.chdir(request[protocol.FORK_CWD])
        os.environ.clear()
        os.environ.update(request[protocol.FORK_ENV])
        import tempfile

        tempfile.tempdir = None
        import numpy as np

        np.random.seed()  # noqa: NPY002 - the legacy global state a student may use
        try:
            if "numba" in sys.modules:  # a server without dlcore has none
                from numba.core import caching, config

                config.reload_config()
                for dispatcher in _dlcore_dispatchers():
                    dispatcher._cache = caching.NullCache()
        except Exception:
            pass  # no Numba: nothing cached to protect
        runner.main(request[protocol.FORK_CONFIG])  # confines itself, then os._exit
    except BaseException:
        traceback.print_exc()
        try:
            sys.stderr.flush()
        except BaseException:
            pass
    os._exit(status)


def serve(sock_fd: int, modules: list[str] = (), dlcore: bool = True) -> None:
    """The server's main loop: warm up, then fork one child per request."""
    sock = socket.socket(fileno=sock_fd)
    started = time.perf_counter()
    try:
        _import_modules(modules, dlcore)
        kernels = _load_cached_kernels() if dlcore else 0
        loaded = sorted(n for n in sys.modules if _is_dlcore(n))
        if not dlcore and loaded:
            raise RuntimeError(f"dlcore was imported while warming up: {loaded[:3]}")
    except BaseException as err:
        _send(
            sock,
            {
                protocol.SERVER_READY: False,
                protocol.SERVER_ERROR: f"{type(err).__name__}: {err}",
            },
        )
        raise
    _send(
        sock,
        {
            protocol.SERVER_READY: True,
            protocol.SERVER_KERNELS: kernels,
            protocol.SERVER_THREADS: _threads(),
            protocol.SERVER_SECONDS: round(time.perf_counter() - started, 3),
        },
    )
    while True:
        try:
            data, fds, _flags, _addr = socket.recv_fds(sock, _MESSAGE, 3)
        except OSError:
            break
        if not data:  # the parent closed the socket: the session is over
            break
        if len(fds) != 3:
            for fd in fds:
                os.close(fd)
            _send(
                sock, {protocol.SERVER_ERROR: f"expected 3 descriptors, got {len(fds)}"}
            )
            continue
        request = json.loads(data)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        pid = os.fork()
        if pid == 0:
            sock.close()
            _become_child(request, fds)
        for fd in fds:
            os.close(fd)
        try:
            _send(sock, {protocol.CHILD_PID: pid})
        finally:  # reaped even when the parent is gone
            _pid, status = os.waitpid(pid, 0)
        _send(sock, {protocol.CHILD_RETURNCODE: os.waitstatus_to_exitcode(status)})
