"""The parent's side of the child processes that run student code.

Every child, however it started, is a :class:`Child`: the parent reads its
stdout, stderr and progress pipe, polls it, waits for it and closes it, and
learns nothing else. Two kinds implement it:

* :class:`ForkedChild`, forked by this process's warm server of its kind
  (with dlcore or without; :class:`ForkServer`, the parent's handle on
  :mod:`.forkserver`): the default, about a second faster per notebook;
* :class:`FreshChild`, a fresh ``python -I``: with ``warm=False``, and
  whenever the server cannot start or breaks.

:class:`ChildLauncher` chooses between them for a session; the fork servers
of the process live in one registry (:func:`ensure_running`, as
:mod:`multiprocessing.forkserver` keeps its one server), shared by the
sessions of a process. Each child starts in a ``with`` block that closes it
(and, for a forked child, releases the server it holds) on every exit path.

The child's code is staged from memory (:func:`read_child_code`,
:func:`stage_code`) as a package ``trusted_child`` that mirrors this one
(``trusted_child/withhold.py``, ``trusted_child/trusted/runner.py``...), so
the modules import each other in the child exactly as they do here.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from . import protocol, sandbox
from .sandbox import Limits

__all__ = [
    "Child",
    "FreshChild",
    "ForkedChild",
    "ForkServer",
    "ForkServerError",
    "ChildLauncher",
    "ensure_running",
    "kill_group",
    "child_environment",
    "read_child_code",
    "stage_code",
    "remove_stale_folders",
    "TMP_PREFIX",
]

TMP_PREFIX = "trusted-recheck-"  # then the owner's pid: see remove_stale_folders

_HERE = Path(__file__).resolve().parent
# The child's code: staged path -> the file here (nothing else of autograder).
_CHILD_FILES = {
    "withhold.py": _HERE.parent / "withhold.py",
    "trusted/runner.py": _HERE / "runner.py",
    "trusted/protocol.py": _HERE / "protocol.py",
    "trusted/codec.py": _HERE / "codec.py",
    "trusted/sandbox.py": _HERE / "sandbox.py",
    "trusted/forkserver.py": _HERE / "forkserver.py",
}
_PACKAGE = "trusted_child"
# Python started with -I (isolated: no PYTHON* variables, no user site, no
# script folder on sys.path) imports only the staged code.
_CHILD_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    f"from {_PACKAGE}.trusted.runner import main; main(sys.argv[2])"
)
_SERVER_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    f"import json; from {_PACKAGE}.trusted.forkserver import serve; "
    "serve(int(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4] == 'dlcore')"
)
_MESSAGE = 1 << 20  # the largest message from the server


class ForkServerError(RuntimeError):
    """The server did not start, or stopped answering."""


# ------------------------------------------------------------ staging


def read_child_code() -> dict[str, bytes]:
    """The child's code, read now and kept: staged afresh for every run."""
    return {name: path.read_bytes() for name, path in _CHILD_FILES.items()}


def stage_code(folder: Path, child_code: dict[str, bytes]) -> None:
    """Write the child's package (held in memory) into ``folder``."""
    package = folder / _PACKAGE
    for name, code in child_code.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(code)
    for init in (package / "__init__.py", package / "trusted" / "__init__.py"):
        init.write_text("")


def child_environment(workdir: Path) -> dict[str, str]:
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


def remove_stale_folders() -> None:
    """Remove the folders of sessions whose process died (e.g. was killed)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{TMP_PREFIX}*-*"):
        pid = folder.name[len(TMP_PREFIX) :].split("-")[0]
        if not pid.isdigit() or folder.stat().st_uid != os.getuid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (PermissionError, OSError):
            pass


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# ------------------------------------------------------------ children


class Child(Protocol):
    """A running child, as the parent sees it.

    ``stdout``, ``stderr`` and ``progress`` are the read ends of its pipes;
    ``pid`` leads its process group. ``poll()`` is the exit status if known
    (negative: the signal), ``wait()`` waits for it. ``lost`` is True when
    the grader lost track of the child (its server died): not the student's
    doing, so the run is repeated. Used as a context manager, which closes
    the pipes (and whatever the child holds) on exit.
    """

    pid: int
    stdout: int
    stderr: int
    progress: int
    lost: bool

    def poll(self) -> int | None: ...

    def wait(self) -> int | None: ...

    def __enter__(self) -> Child: ...

    def __exit__(self, *exc) -> None: ...


class FreshChild:
    """A child started as a fresh ``python -I`` (no fork server)."""

    lost = False  # this process always learns how its own child ended

    def __init__(
        self, config: protocol.ChildConfig, stage: Path, workdir: Path, env, limits
    ):
        config_path = workdir / "config.json"
        read_fd, write_fd = os.pipe()
        config_path.write_text(
            dataclasses.replace(config, progress_fd=write_fd).to_json()
        )
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-c", _CHILD_BOOT, str(stage), str(config_path)],
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

    def __enter__(self) -> FreshChild:
        return self

    def __exit__(self, *exc) -> None:
        os.close(self.progress)
        self.proc.stdout.close()
        self.proc.stderr.close()


class ForkedChild:
    """A child forked by a :class:`ForkServer` (see :meth:`ForkServer.spawn`)."""

    def __init__(self, server: ForkServer, pid: int, pipes: tuple[int, int, int]):
        self.server = server
        self.pid = pid
        self.stdout, self.stderr, self.progress = pipes
        self.returncode: int | None = None
        self.lost = False  # the server stopped answering about it

    def poll(self) -> int | None:
        """The exit status if the server has already reported it."""
        return self.wait(timeout=0.0, quiet=True)

    def wait(self, timeout: float = 10.0, quiet: bool = False) -> int | None:
        """The exit status (negative: the signal); None if none came."""
        if self.returncode is None and not self.lost:
            reply = self.server.receive(timeout)
            if reply is not None and protocol.CHILD_RETURNCODE in reply:
                self.returncode = int(reply[protocol.CHILD_RETURNCODE])
            elif not (quiet and reply is None and self.server.alive):
                self.lost = True
                self.server.close()
        return self.returncode

    def __enter__(self) -> ForkedChild:
        return self

    def __exit__(self, *exc) -> None:
        for fd in (self.stdout, self.stderr, self.progress):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.returncode is None and not self.lost:
            self.wait()  # the server's answer must not reach the next child


class ForkServer:
    """The parent's handle on a fork server (:mod:`.forkserver`).

    Parameters
    ----------
    stage : path
        Folder holding the staged ``trusted_child`` package.
    workdir : path
        The server's own working directory, which also holds its Numba
        cache (a copy of the course's, made before it starts).
    env : dict
        Its environment (the children's, with its own folders).
    modules : list of str
        Modules to import while warming up (those the notebooks import);
        one that fails to import is left to the child.
    ready_seconds : float
        How long warming up may take.
    dlcore : bool
        The server of children with dlcore (it imports all of it and loads
        its cached kernels), or without (it never imports dlcore).

    The server warms up while the caller goes on; :meth:`wait_ready` (and
    the first :meth:`spawn`) waits for it.
    """

    def __init__(
        self,
        stage,
        workdir,
        env: dict,
        modules=(),
        ready_seconds=120.0,
        dlcore: bool = True,
    ):
        parent_end, server_end = socket.socketpair(
            socket.AF_UNIX, socket.SOCK_SEQPACKET
        )
        self._sock = parent_end
        self._log = os.path.join(workdir, "server.log")
        self.dlcore = dlcore
        arguments = [
            str(stage),
            str(server_end.fileno()),
            json.dumps(list(modules)),
            "dlcore" if dlcore else "plain",
        ]
        try:
            with open(self._log, "wb") as log:
                self.process = subprocess.Popen(
                    [sys.executable, "-I", "-c", _SERVER_BOOT, *arguments],
                    cwd=workdir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    pass_fds=(server_end.fileno(),),
                    start_new_session=True,
                    preexec_fn=sandbox.die_with_parent(),
                )
        finally:
            server_end.close()
        self._ready_seconds = ready_seconds
        # one child at a time (sessions may run in threads): held by spawn()
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
        hello = self.receive(self._ready_seconds)
        if not hello or not hello.get(protocol.SERVER_READY):
            why = (hello or {}).get(protocol.SERVER_ERROR) or "it did not answer"
            self.close()
            raise ForkServerError(f"the fork server did not start: {why}{self._tail()}")
        if int(hello.get(protocol.SERVER_THREADS, 1)) != 1:
            self.close()
            threads = hello[protocol.SERVER_THREADS]
            raise ForkServerError(
                f"the fork server runs {threads} threads after warming up; "
                "forking it is not safe"
            )
        self.kernels = int(hello.get(protocol.SERVER_KERNELS, 0))
        self.warmup_seconds = float(hello.get(protocol.SERVER_SECONDS, 0.0))
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

    def receive(self, timeout: float) -> dict | None:
        """The server's next message; None if none came in time."""
        if self._sock is None:
            return None
        self._sock.settimeout(timeout)
        try:
            data = self._sock.recv(_MESSAGE)
            return json.loads(data) if data else None
        except (OSError, ValueError):
            return None

    @contextlib.contextmanager
    def spawn(self, config: str, cwd: str, env: dict, limits) -> Iterator[ForkedChild]:
        """Fork a child that runs ``runner.main(config)``, closed on leaving.

        The server serves this child alone until the block ends.
        """
        with self._lock:
            self.wait_ready()
            if not self.alive:
                raise ForkServerError("the fork server is not running")
            with self._fork(config, cwd, env, limits) as child:
                yield child

    def _fork(self, config: str, cwd: str, env: dict, limits) -> ForkedChild:
        pipes = [os.pipe() for _ in range(3)]
        request = {
            protocol.FORK_CONFIG: config,
            protocol.FORK_CWD: cwd,
            protocol.FORK_ENV: env,
            protocol.FORK_LIMITS: vars(limits),
        }
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
        reply = self.receive(10.0)
        if not reply or protocol.CHILD_PID not in reply:
            for r in reads:
                os.close(r)
            self.close()
            raise ForkServerError(f"the fork server did not fork: {reply}")
        return ForkedChild(self, int(reply[protocol.CHILD_PID]), reads)

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


# ------------------------------------------------------- the registry

# The fork servers of this process, one per course (and dlcore, Numba cache,
# child code) and kind (with dlcore or without: the key's last item), shared
# by its sessions: the autograde command makes one session per assignment,
# and warming up costs a few seconds.
_SERVERS: dict[tuple, ForkServer] = {}


def ensure_running(key: tuple, launch: Callable[[], ForkServer]) -> ForkServer:
    """This process's fork server for ``key``, started with ``launch()`` if
    none runs (one still warming up counts as running); as
    :mod:`multiprocessing.forkserver` keeps one."""
    server = _SERVERS.get(key)
    if server is None or not (server.alive or not server.ready):
        server = _SERVERS[key] = launch()
    return server


def _forget(key: tuple, server: ForkServer) -> None:
    server.close()
    if _SERVERS.get(key) is server:
        del _SERVERS[key]


def launch_server(
    child_code: dict[str, bytes],
    modules: list[str],
    numba_seed: Callable,
    dlcore: bool = True,
) -> ForkServer:
    """Start a fork server (with or without dlcore) in a folder of its own;
    it warms up meanwhile."""
    folder = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-server-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    stage_code(folder / "stage", child_code)
    workdir = folder / "work"
    for sub in ("tmp", "numba", "mpl"):
        (workdir / sub).mkdir(parents=True)
    if dlcore:
        sandbox.copy_numba_seed(numba_seed(workdir / "numba"))
    sandbox.seed_font_list(workdir / "mpl")
    env = child_environment(workdir)
    server = ForkServer(folder / "stage", workdir, env, modules, dlcore=dlcore)
    atexit.register(server.close)
    return server


class ChildLauncher:
    """Starts a session's children: forked from the warm server, or fresh.

    Parameters
    ----------
    key : tuple
        What the server depends on; sessions with equal keys share one.
    launch : callable
        Starts a server for ``key`` (:func:`launch_server`).
    numba_seed : callable ``folder -> seed``
        What a fresh child copies into its own Numba cache.
    limits : Limits
    warm : bool
        Fork children from the server; False: always fresh interpreters.
    """

    MAX_STARTS = 3  # servers one launcher starts before it gives up on them

    def __init__(self, key, launch, numba_seed, limits: Limits, warm: bool = True):
        self._key = key
        self._launch = launch
        self._numba_seed = numba_seed
        self._limits = limits
        self._warm = warm
        self._starts = 0
        self.server: ForkServer | None = None
        self.description = "" if warm else "fresh interpreters"
        if warm:  # it warms up while the session prepares
            self.server = ensure_running(self._key, self._counted_launch)

    def _counted_launch(self) -> ForkServer:
        if self._starts >= self.MAX_STARTS:
            raise ForkServerError(f"the fork server stopped {self.MAX_STARTS} times")
        self._starts += 1
        return self._launch()

    def _give_up(self, why: str) -> None:
        if self.server is not None:
            _forget(self._key, self.server)
        self.server = None
        self._warm = False
        self.description = f"fresh interpreters ({why})"
        print(
            f"trusted re-check: {why}; starting a fresh interpreter per notebook "
            "instead",
            file=sys.stderr,
        )

    def _ready_server(self) -> ForkServer | None:
        """The ready fork server, started (again) if need be; None: fresh."""
        if not self._warm:
            return None
        try:
            self.server = ensure_running(self._key, self._counted_launch)
            self.server.wait_ready()
        except ForkServerError as err:
            self._give_up(str(err))
            return None
        self.description = (
            f"forked from a warm interpreter ({self.server.kernels} cached "
            f"kernels loaded in {self.server.warmup_seconds:.1f} s)"
        )
        return self.server

    @contextlib.contextmanager
    def start(
        self, config: protocol.ChildConfig, stage: Path, workdir: Path
    ) -> Iterator[Child]:
        """A child running ``config``: forked if possible, else fresh."""
        env = child_environment(workdir)
        with contextlib.ExitStack() as stack:
            child = None
            server = self._ready_server()
            if server is not None:
                config_path = workdir / "config.json"
                forked = dataclasses.replace(config, progress_fd=protocol.PROGRESS_FD)
                config_path.write_text(forked.to_json())
                try:
                    child = stack.enter_context(
                        server.spawn(str(config_path), str(workdir), env, self._limits)
                    )
                except ForkServerError:
                    pass  # started again for the next notebook
            if child is None:
                seed = self._numba_seed(workdir / "numba")
                fresh = dataclasses.replace(config, numba_seed=seed)
                child = stack.enter_context(
                    FreshChild(fresh, stage, workdir, env, self._limits)
                )
            yield child

    def close(self) -> None:
        self.server = None  # shared: it stays for the next session
