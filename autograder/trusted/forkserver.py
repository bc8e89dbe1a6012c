"""A warm interpreter that the trusted re-check forks its children from.

A fresh ``python -I`` pays about a second before the first line of student
code runs: importing NumPy, Numba and dlcore, then loading the first cached
kernel (which initialises LLVM and makes Numba import SciPy's BLAS). For
an assignment that trains a small CNN that is more than the whole check.
So the grading process starts *one* server, shared by its
:class:`Sessions <autograder.trusted.recheck.Session>`, the way a fresh
child used to start (``python -I``, the same scrubbed environment), which
imports dlcore and what the course's notebooks import, loads every kernel in
the course's Numba cache, and then, for each notebook run, forks.

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

The protocol, over a ``SOCK_SEQPACKET`` socket pair (one JSON message each):

* server -> parent, once: ``{"ready": ..., "kernels": n, "threads": n}``;
* parent -> server: ``{"config", "cwd", "env", "limits"}`` with three
  descriptors (stdout, stderr, progress), server -> parent ``{"pid": n}``,
  and when the child has ended ``{"returncode": n}`` (negative: the signal,
  as :attr:`subprocess.Popen.returncode`). One child at a time.

The parent side is :class:`ForkServer`; it falls back to nothing itself:
when the server cannot start or breaks, the session starts its children as
fresh interpreters again.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
import traceback

from . import runner, sandbox

__all__ = ["ForkServer", "ForkServerError", "serve"]

PROGRESS_FD = 3  # where a forked child finds the progress pipe
_MESSAGE = 1 << 20


class ForkServerError(RuntimeError):
    """The server did not start, or stopped answering."""


# ------------------------------------------------------------ the server


def _dlcore_dispatchers():
    """Every Numba dispatcher defined in dlcore's modules."""
    from numba.core.dispatcher import Dispatcher

    found = {}
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "dlcore" or name.startswith("dlcore.")):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, Dispatcher):
                found[id(value)] = value
    return list(found.values())


# What dlcore imports only when used: dlcore.data.load_digits takes about
# half a second importing scikit-learn's datasets.
_LAZILY_IMPORTED = ("sklearn.datasets",)


def _import_modules(modules) -> None:
    """dlcore, every module of it, what it imports lazily, and ``modules``."""
    import importlib
    import pkgutil

    import dlcore

    for info in pkgutil.walk_packages(dlcore.__path__, "dlcore."):
        importlib.import_module(info.name)
    for name in (*_LAZILY_IMPORTED, *modules):
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
    status = runner.EXIT_INTERNAL
    try:
        os.setsid()
        stdout, stderr, progress = fds
        stdin = os.open(os.devnull, os.O_RDONLY)
        # dup2 leaves no gap: each target is free or already one of ours
        for fd, target in (
            (stdin, 0),
            (stdout, 1),
            (stderr, 2),
            (progress, PROGRESS_FD),
        ):
            os.dup2(fd, target)
        os.closerange(PROGRESS_FD + 1, os.sysconf("SC_OPEN_MAX"))  # before NOFILE
        sandbox.resource_limiter(sandbox.Limits(**request["limits"]))()
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        import tempfile

        tempfile.tempdir = None
        import numpy as np

        np.random.seed()  # noqa: NPY002 - the legacy global state a student may use
        try:
            from numba.core import caching, config

            config.reload_config()
            for dispatcher in _dlcore_dispatchers():
                dispatcher._cache = caching.NullCache()
        except Exception:
            pass  # no Numba: nothing cached to protect
        runner.main(request["config"])  # confines itself, then os._exit
    except BaseException:
        traceback.print_exc()
        try:
            sys.stderr.flush()
        except BaseException:
            pass
    os._exit(status)


def serve(sock_fd: int, modules: list[str] = ()) -> None:
    """The server's main loop: warm up, then fork one child per request."""
    sock = socket.socket(fileno=sock_fd)
    started = time.perf_counter()
    try:
        _import_modules(modules)
        kernels = _load_cached_kernels()
    except BaseException as err:
        _send(sock, {"ready": False, "error": f"{type(err).__name__}: {err}"})
        raise
    _send(
        sock,
        {
            "ready": True,
            "kernels": kernels,
            "threads": _threads(),
            "seconds": round(time.perf_counter() - started, 3),
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
            _send(sock, {"error": f"expected 3 descriptors, got {len(fds)}"})
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
            _send(sock, {"pid": pid})
        finally:  # reaped even when the parent is gone
            _pid, status = os.waitpid(pid, 0)
        _send(sock, {"returncode": os.waitstatus_to_exitcode(status)})


# ------------------------------------------------------------ the parent


# The server starts like a fresh child: ``python -I``, only the staged code.
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "import json; from trusted_child.forkserver import serve; "
    "serve(int(sys.argv[2]), json.loads(sys.argv[3]))"
)


class ForkedChild:
    """One child forked by the server, as the parent watches it."""

    def __init__(self, server: ForkServer, pid: int, pipes: tuple[int, int, int]):
        self.server = server
        self.pid = pid
        self.stdout, self.stderr, self.progress = pipes
        self.returncode: int | None = None
        self.lost = False  # the server stopped answering about it
        self._released = False

    def poll(self) -> int | None:
        """The exit status if the server has already reported it."""
        return self.wait(timeout=0.0, quiet=True)

    def wait(self, timeout: float = 10.0, quiet: bool = False) -> int | None:
        """The exit status (negative: the signal); None if none came."""
        if self.returncode is None and not self.lost:
            reply = self.server._receive(timeout)
            if reply is not None and "returncode" in reply:
                self.returncode = int(reply["returncode"])
            elif not (quiet and reply is None and self.server.alive):
                self.lost = True
                self.server.close()
        return self.returncode

    def close(self) -> None:
        for fd in (self.stdout, self.stderr, self.progress):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.returncode is None and not self.lost:
            self.wait()  # the server's answer must not reach the next child
        if not self._released:
            self._released = True
            self.server._lock.release()


class ForkServer:
    """The parent's handle on a fork server (see the module docstring).

    Parameters
    ----------
    stage : path
        Folder holding the ``trusted_child`` package (this module, the
        runner, the codec and the sandbox).
    workdir : path
        The server's own working directory, which also holds its Numba
        cache (a copy of the course's, made before it starts).
    env : dict
        Its environment (the children's, with its own folders).
    modules : list of str
        Modules to import while warming up, besides dlcore (those the
        notebooks import); one that fails to import is left to the child.
    ready_seconds : float
        How long warming up may take.

    The server warms up while the caller goes on; :meth:`wait_ready` (and
    the first :meth:`spawn`) waits for it.
    """

    def __init__(
        self,
        stage,
        workdir,
        env: dict,
        modules: list[str] = (),
        ready_seconds: float = 120.0,
    ):
        import subprocess

        parent_end, server_end = socket.socketpair(
            socket.AF_UNIX, socket.SOCK_SEQPACKET
        )
        self._sock = parent_end
        self._log = os.path.join(workdir, "server.log")
        limiter = sandbox.die_with_parent()
        try:
            with open(self._log, "wb") as log:
                self.process = subprocess.Popen(
                    [
                        sys.executable,
                        "-I",
                        "-c",
                        _BOOT,
                        str(stage),
                        str(server_end.fileno()),
                        json.dumps(list(modules)),
                    ],
                    cwd=workdir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    pass_fds=(server_end.fileno(),),
                    start_new_session=True,
                    preexec_fn=limiter,
                )
        finally:
            server_end.close()
        self._ready_seconds = ready_seconds
        # one child at a time: held from spawn() until ForkedChild.close()
        self._lock = threading.RLock()
        self.ready = False
        self.kernels = 0
        self.warmup_seconds = 0.0

    def wait_ready(self) -> None:
        """Wait until the server has warmed up; ForkServerError if it failed."""
        with self._lock:
            if not self.ready:
                self._hello()

    def _hello(self) -> None:
        hello = self._receive(self._ready_seconds)
        if not hello or not hello.get("ready"):
            why = (hello or {}).get("error") or "it did not answer"
            self.close()
            raise ForkServerError(f"the fork server did not start: {why}{self._tail()}")
        if int(hello.get("threads", 1)) != 1:
            self.close()
            raise ForkServerError(
                f"the fork server runs {hello['threads']} threads after warming up; "
                "forking it is not safe"
            )
        self.kernels = int(hello.get("kernels", 0))
        self.warmup_seconds = float(hello.get("seconds", 0.0))
        self.ready = True

    def _tail(self) -> str:
        try:
            with open(self._log, "rb") as fh:
                text = fh.read()[-2000:].decode(errors="replace").strip()
        except OSError:
            return ""
        return f"\n{text}" if text else ""

    @property
    def alive(self) -> bool:
        return self._sock is not None and self.process.poll() is None

    def _receive(self, timeout: float) -> dict | None:
        if self._sock is None:
            return None
        self._sock.settimeout(timeout)
        try:
            data = self._sock.recv(_MESSAGE)
            return json.loads(data) if data else None
        except (OSError, ValueError):
            return None

    def spawn(self, config: str, cwd: str, env: dict, limits) -> ForkedChild:
        """Fork a child that runs ``runner.main(config)``; its pipes' read ends.

        The server is the caller's until the child's :meth:`ForkedChild.close`.
        """
        self._lock.acquire()
        try:
            self.wait_ready()
            if not self.alive:
                raise ForkServerError("the fork server is not running")
            return self._spawn(config, cwd, env, limits)
        except BaseException:
            self._lock.release()
            raise

    def _spawn(self, config: str, cwd: str, env: dict, limits) -> ForkedChild:
        pipes = [os.pipe() for _ in range(3)]
        request = {"config": config, "cwd": cwd, "env": env, "limits": vars(limits)}
        try:
            socket.send_fds(
                self._sock, [json.dumps(request).encode()], [w for _r, w in pipes]
            )
        except OSError as err:
            for r, w in pipes:
                os.close(r)
                os.close(w)
            self.close()
            raise ForkServerError(f"the fork server is gone: {err}") from None
        for _r, w in pipes:
            os.close(w)
        reads = tuple(r for r, _w in pipes)
        reply = self._receive(10.0)
        if not reply or "pid" not in reply:
            for r in reads:
                os.close(r)
            self.close()
            raise ForkServerError(f"the fork server did not fork: {reply}")
        return ForkedChild(self, int(reply["pid"]), reads)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self.process.poll() is None:
            try:
                self.process.wait(timeout=5)
            except Exception:
                self.process.kill()
                self.process.wait()
