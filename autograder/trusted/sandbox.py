"""Confinement of the child process that runs student code (Linux).

Two halves, both plain standard library:

* :func:`resource_limiter` (parent side) returns the ``preexec_fn`` that sets
  the child's resource limits with ``resource.setrlimit`` between ``fork``
  and ``exec``: CPU seconds, address space, size of written files, open
  files, no core dumps.
* :func:`confine` (child side) is the first thing the child runs, before it
  reads any student code:

  - ``PR_SET_NO_NEW_PRIVS``;
  - **Landlock** (Linux >= 5.13, unprivileged): the process may read only the
    paths it is given (the Python installation and the virtualenv, less
    dlcore's package and the Numba cache; the staged runner and inputs) and
    write only its own working directory. The course state (gradebook,
    secret, reference outputs), ``solutions/``, dlcore's files and the rest
    of the file system are out of reach, even when the student
    knows their paths. Where the kernel offers it, TCP and signals to
    processes outside the sandbox are blocked too (so student code can
    neither phone home nor kill the grader);
  - when running as root: the capabilities are dropped (so the limits above
    cannot be raised again and files are not readable by privilege);
  - a **seccomp** filter refusing ``fork``/``vfork``/``clone`` of new
    processes (threads stay allowed) and ``execve``: no fork bomb, no shell.

Every layer is applied when the kernel offers it and reported in the
returned dict; :data:`LANDLOCK_ABI` says what this machine supports.
"""

from __future__ import annotations

import ctypes
import fnmatch
import hashlib
import os
import platform
import resource
import shutil
import signal
import struct
from collections.abc import Callable, Iterable

__all__ = [
    "Limits",
    "landlock_abi",
    "resource_limiter",
    "die_with_parent",
    "confine",
    "readable_except",
    "readable_within",
    "numba_cache_seed",
    "copy_numba_seed",
    "seed_font_list",
    "font_lists",
]


class Limits:
    """Resource limits of one child process.

    Parameters
    ----------
    cpu_seconds : int
        CPU time of the whole child (``RLIMIT_CPU``).
    memory_bytes : int
        Address space (``RLIMIT_AS``): a memory bomb gets ``MemoryError``.
    file_bytes : int
        Largest file the child may write (``RLIMIT_FSIZE``).
    step_seconds : float
        Wall-clock time one step (a cell or one graded call) may take before
        the parent kills the child and retries without that step.
    attempt_seconds : float
        Wall-clock time of one child process.
    notebook_seconds : float
        Wall-clock budget of all attempts for one notebook.
    output_bytes : int
        Captured stdout/stderr kept per stream (the rest is discarded).
    """

    def __init__(
        self,
        cpu_seconds: int = 60,
        memory_bytes: int = 2 << 30,
        file_bytes: int = 256 << 20,
        step_seconds: float = 30.0,
        attempt_seconds: float = 120.0,
        notebook_seconds: float = 600.0,
        output_bytes: int = 64 << 10,
    ):
        self.cpu_seconds = int(cpu_seconds)
        self.memory_bytes = int(memory_bytes)
        self.file_bytes = int(file_bytes)
        self.step_seconds = float(step_seconds)
        self.attempt_seconds = float(attempt_seconds)
        self.notebook_seconds = float(notebook_seconds)
        self.output_bytes = int(output_bytes)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"Limits({fields})"


def resource_limiter(limits: Limits) -> Callable[[], None]:
    """The ``preexec_fn`` that applies ``limits`` in the forked child."""
    settings = [
        (resource.RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 1),
        (resource.RLIMIT_AS, limits.memory_bytes, limits.memory_bytes),
        (resource.RLIMIT_FSIZE, limits.file_bytes, limits.file_bytes),
        (resource.RLIMIT_NOFILE, 256, 256),
        (resource.RLIMIT_CORE, 0, 0),
    ]
    linux = platform.system() == "Linux"

    def apply() -> None:  # runs between fork and exec: no imports, no locks
        for which, soft, hard in settings:
            resource.setrlimit(which, (soft, hard))
        if linux:  # if the grader dies (crash, kill), the child dies with it
            _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    return apply


def die_with_parent() -> Callable[[], None]:
    """The ``preexec_fn`` of a helper that must not outlive the grader."""
    linux = platform.system() == "Linux"

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if linux:
            _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    return apply


# ------------------------------------------------------------ Numba cache


def numba_cache_seed(
    private: str | os.PathLike, shared: str | os.PathLike | None, dlcore_dirs
) -> list[list[str]]:
    """What to copy so that ``NUMBA_CACHE_DIR=private`` starts warm.

    A confined process cannot write the course's Numba cache (shared by
    every kernel: a poisoned cache would run in the next process), and Numba
    only uses a cache folder it can write to. So it gets a private copy: the
    course's cache folder (``shared``) as it is, and the kernels cached next
    to dlcore's sources (``__pycache__``) in the layout Numba uses under
    ``NUMBA_CACHE_DIR`` (``<folder name>_<sha1 of the folder path>``).
    """
    seed = []
    if shared is not None and os.path.isdir(shared):
        seed.append([str(shared), str(private), "tree"])
    for folder in dlcore_dirs:
        for root, _dirs, files in os.walk(folder):
            if os.path.basename(root) != "__pycache__":
                continue
            if not any(name.endswith(".nbi") for name in files):
                continue
            source_dir = os.path.dirname(root)
            hashed = hashlib.sha1(source_dir.encode()).hexdigest()
            target = os.path.join(private, f"{os.path.basename(source_dir)}_{hashed}")
            seed.append([root, target, "numba files"])
    return seed


def copy_numba_seed(seed: Iterable[list[str]]) -> None:
    """Copy what :func:`numba_cache_seed` listed (best effort)."""
    for source, target, how in seed:
        try:
            if how == "tree":
                shutil.copytree(source, target, dirs_exist_ok=True)
                continue
            os.makedirs(target, exist_ok=True)
            for name in os.listdir(source):
                if name.endswith((".nbi", ".nbc")):
                    shutil.copyfile(
                        os.path.join(source, name), os.path.join(target, name)
                    )
        except OSError:
            pass  # a cold cache is slower, not wrong


def font_lists() -> list[str]:
    """This user's matplotlib font lists (``fontlist-v*.json``), where
    matplotlib keeps them: ``$MPLCONFIGDIR``, else
    ``$XDG_CACHE_HOME/matplotlib`` (``~/.cache/matplotlib``)."""
    configured = os.environ.get("MPLCONFIGDIR")
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    places = [configured] if configured else []
    places.append(os.path.join(cache, "matplotlib"))
    found = []
    for place in places:
        try:
            names = fnmatch.filter(os.listdir(place), "fontlist-v*.json")
        except OSError:
            continue
        found += [os.path.join(place, name) for name in sorted(names)]
    return found


def seed_font_list(folder: str | os.PathLike) -> None:
    """Give a new, private ``MPLCONFIGDIR`` this user's matplotlib font list
    (:func:`font_lists`; the grading run's warm-up makes it).

    Without it, the first ``import matplotlib.pyplot`` there searches the
    system's fonts again (about 0.4 s of CPU in every kernel and fork
    server). Best effort, like the Numba seed.
    """
    for path in font_lists():
        try:
            shutil.copyfile(path, os.path.join(folder, os.path.basename(path)))
        except OSError:
            pass  # slower, not wrong


# ------------------------------------------------------------------ libc

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.restype = ctypes.c_int
_libc.prctl.argtypes = [
    ctypes.c_int,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
]

_SYS_LANDLOCK_CREATE_RULESET = 444  # the same number on every architecture
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446

_PR_SET_PDEATHSIG = 1
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_PR_CAPBSET_DROP = 24
_PR_SET_SECUREBITS = 28
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4


def _errno_text() -> str:
    return os.strerror(ctypes.get_errno())


def _prctl(option: int, arg2: int = 0) -> int:
    return _libc.prctl(option, arg2, 0, 0, 0)


# -------------------------------------------------------------- Landlock

_FS_EXECUTE = 1 << 0
_FS_WRITE_FILE = 1 << 1
_FS_READ_FILE = 1 << 2
_FS_READ_DIR = 1 << 3
_FS_REFER = 1 << 13
_FS_TRUNCATE = 1 << 14
_FS_IOCTL_DEV = 1 << 15
_NET_BIND_TCP = 1 << 0
_NET_CONNECT_TCP = 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
_SCOPE_SIGNAL = 1 << 1
_RULE_PATH_BENEATH = 1
_FILE_RIGHTS = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_TRUNCATE
_FILE_RIGHTS |= _FS_IOCTL_DEV


def landlock_abi() -> int:
    """The Landlock ABI version the kernel offers (0: none)."""
    if platform.system() != "Linux":
        return 0
    version = _libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, None, 0, 1)
    return max(int(version), 0)


LANDLOCK_ABI = landlock_abi()


def _fs_rights(abi: int) -> int:
    rights = (1 << 13) - 1  # ABI 1: execute .. make_sym
    if abi >= 2:
        rights |= _FS_REFER
    if abi >= 3:
        rights |= _FS_TRUNCATE
    if abi >= 5:
        rights |= _FS_IOCTL_DEV
    return rights


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def readable_except(denied: Iterable[str]) -> tuple[list[str], list[str]]:
    """What to grant so that everything but the ``denied`` folders is readable.

    Landlock only grants rights, each on everything beneath a path. To keep
    some folders out of reach while the rest of the file system stays
    readable, every entry of each ancestor of a denied folder that is
    neither denied nor itself an ancestor is granted reading; the ancestors
    themselves get only *listing* (Python's import system lists the folders
    on its path). Listing, like every right, reaches beneath: the *names*
    inside a denied folder can be listed, but no file in it can be opened.
    Symbolic links count by their target. Entries created in an ancestor
    after the confinement are not readable.

    Returns ``(read, list_only)``, resolved paths.
    """
    denied = sorted(
        {os.path.realpath(d) for d in denied if os.path.exists(d)} - {os.sep}
    )
    ancestors: set[str] = set()
    for folder in denied:
        parent = os.path.dirname(folder)
        while parent not in ancestors:
            ancestors.add(parent)
            if parent == os.path.dirname(parent):
                break
            parent = os.path.dirname(parent)
    if not denied:
        return [os.sep], []
    read: set[str] = set()
    for folder in sorted(ancestors):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            real = os.path.realpath(os.path.join(folder, name))
            if real in ancestors or any(_within(real, d) for d in denied):
                continue
            read.add(real)
    return sorted(read), sorted(ancestors)


def readable_within(
    read: Iterable[str], denied: Iterable[str]
) -> tuple[list[str], list[str]]:
    """The ``read`` paths, minus everything inside the ``denied`` ones.

    Like :func:`readable_except`, within granted folders rather than the
    whole file system: a granted folder that holds a denied one is replaced
    by its entries (each granted, or split again if it too holds a denied
    one) and itself only listed. A granted path inside a denied one is
    dropped. (The re-check's child: Python and the virtualenv readable,
    dlcore's package and the Numba cache not, wherever they lie.)

    Returns ``(read, list_only)``, resolved paths.
    """
    denied = sorted({os.path.realpath(d) for d in denied if os.path.exists(d)})
    read_out: set[str] = set()
    list_only: set[str] = set()

    def grant(path: str) -> None:
        if any(_within(path, d) for d in denied):
            return
        if not any(_within(d, path) for d in denied) or not os.path.isdir(path):
            read_out.add(path)
            return
        list_only.add(path)
        try:
            names = os.listdir(path)
        except OSError:
            return
        for name in names:
            entry = os.path.join(path, name)
            real = os.path.realpath(entry)
            if real != entry and not any(_within(d, entry) for d in denied):
                grant(real)  # a link: by its target
            else:
                grant(entry)

    for path in read:
        if os.path.exists(path):
            grant(os.path.realpath(path))
    return sorted(read_out), sorted(list_only - read_out)


def _landlock(
    read: Iterable[str],
    write: Iterable[str],
    listen: bool,
    list_only: Iterable[str] = (),
) -> dict:
    abi = LANDLOCK_ABI
    if abi <= 0:
        return {"landlock": "unavailable"}
    handled = _fs_rights(abi)
    fields = [handled]
    if abi >= 4:
        fields.append(_NET_CONNECT_TCP if listen else _NET_BIND_TCP | _NET_CONNECT_TCP)
    if abi >= 6:
        fields.append(_SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL)
    attr = ctypes.create_string_buffer(struct.pack(f"={len(fields)}Q", *fields))
    ruleset = _libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, attr, len(attr.raw), 0)
    if ruleset < 0:
        return {"landlock": f"failed: {_errno_text()}"}
    read_rights = _FS_EXECUTE | _FS_READ_FILE | _FS_READ_DIR
    added = []
    try:
        for paths, rights in (
            (list_only, _FS_READ_DIR),
            (read, read_rights),
            (write, handled),
        ):
            for path in paths:
                try:
                    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                except OSError:
                    continue  # a path this machine does not have
                try:
                    allowed = rights
                    if not os.path.isdir(path):
                        allowed &= _FILE_RIGHTS
                    allowed &= handled
                    if not allowed:
                        continue
                    rule = ctypes.create_string_buffer(struct.pack("=Qi", allowed, fd))
                    if (
                        _libc.syscall(
                            _SYS_LANDLOCK_ADD_RULE, ruleset, _RULE_PATH_BENEATH, rule, 0
                        )
                        < 0
                    ):
                        return {"landlock": f"failed on {path}: {_errno_text()}"}
                    added.append(path)
                finally:
                    os.close(fd)
        if _libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0) < 0:
            return {"landlock": f"failed: {_errno_text()}"}
    finally:
        os.close(ruleset)
    network = "open"
    if abi >= 4:
        network = "no outgoing TCP" if listen else "blocked"
    return {
        "landlock": f"ABI {abi}",
        "network": network,
        "signals": "scoped" if abi >= 6 else "open",
    }


# ---------------------------------------------------------- capabilities


def _drop_capabilities() -> str:
    if os.geteuid() != 0:
        return "not root"
    # no privileges come back on exec (were exec allowed), then empty sets
    secure = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 5)
    _prctl(_PR_SET_SECUREBITS, secure)
    _prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL)
    cap = 0
    while _prctl(_PR_CAPBSET_DROP, cap) == 0:
        cap += 1
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (ctypes.c_uint32 * 6)()  # two {effective, permitted, inheritable}
    if _libc.capset(header, data) != 0:
        return f"failed: {_errno_text()}"
    return "dropped"


# ---------------------------------------------------------------- seccomp

# (audit arch, {name: number}); aarch64 has no fork/vfork system calls.
_SECCOMP_ARCH = {
    "x86_64": (
        0xC000003E,
        {
            "clone": 56,
            "fork": 57,
            "vfork": 58,
            "execve": 59,
            "execveat": 322,
            "clone3": 435,
        },
    ),
    "aarch64": (
        0xC00000B7,
        {"clone": 220, "execve": 221, "execveat": 281, "clone3": 435},
    ),
}
_CLONE_THREAD = 0x00010000
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_RET_KILL_PROCESS = 0x80000000
_EPERM, _ENOSYS = 1, 38


def _bpf(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def _seccomp() -> str:
    machine = platform.machine()
    if machine not in _SECCOMP_ARCH:
        return f"unavailable on {machine}"
    audit_arch, nr = _SECCOMP_ARCH[machine]
    ld_word, jeq, jset, jge, ret = 0x20, 0x15, 0x45, 0x35, 0x06
    deny = [nr[name] for name in ("fork", "vfork", "execve", "execveat") if name in nr]
    prog = [
        _bpf(ld_word, 0, 0, 4),  # seccomp_data.arch
        _bpf(jeq, 1, 0, audit_arch),
        _bpf(ret, 0, 0, _RET_KILL_PROCESS),
        _bpf(ld_word, 0, 0, 0),  # seccomp_data.nr
    ]
    if machine == "x86_64":  # the x32 ABI: numbers with bit 30 set
        prog += [_bpf(jge, 0, 1, 0x40000000), _bpf(ret, 0, 0, _RET_ERRNO | _EPERM)]
    for number in deny:
        prog += [_bpf(jeq, 0, 1, number), _bpf(ret, 0, 0, _RET_ERRNO | _EPERM)]
    # clone3 hides its flags in memory: refuse it, libc falls back to clone
    prog += [_bpf(jeq, 0, 1, nr["clone3"]), _bpf(ret, 0, 0, _RET_ERRNO | _ENOSYS)]
    prog += [
        _bpf(jeq, 0, 3, nr["clone"]),
        _bpf(ld_word, 0, 0, 16),  # low word of args[0], the clone flags
        _bpf(jset, 1, 0, _CLONE_THREAD),
        _bpf(ret, 0, 0, _RET_ERRNO | _EPERM),  # a new process
        _bpf(ret, 0, 0, _RET_ALLOW),  # a thread, or any other call
    ]
    code = b"".join(prog)
    filters = ctypes.create_string_buffer(code)

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(prog), ctypes.cast(filters, ctypes.c_void_p))
    _libc.prctl.argtypes = None  # the third argument is a pointer here
    try:
        if _libc.prctl(_PR_SET_SECCOMP, 2, ctypes.byref(fprog), 0, 0) != 0:
            return f"failed: {_errno_text()}"
    finally:
        _libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
    return "no new processes, no exec"


def confine(
    read: Iterable[str],
    write: Iterable[str],
    *,
    listen: bool = False,
    processes: bool = False,
    list_only: Iterable[str] = (),
) -> dict:
    """Confine the calling process for good; returns what was applied.

    Parameters
    ----------
    read : paths the process may read (directories: everything beneath).
    write : paths the process may also create, write and delete in.
    listen : it may listen on TCP ports (a kernel's ZeroMQ sockets); it may
        never open a TCP connection.
    list_only : folders it may only list (see :func:`readable_except`).
    processes : also drop root's capabilities and forbid new processes
        and ``exec`` (the re-check's child); False leaves ``exec`` possible
        (a launcher that confines, then starts a kernel).
    """
    applied: dict[str, str] = {}
    if platform.system() != "Linux":
        return {"sandbox": f"unavailable on {platform.system()}"}
    if _prctl(_PR_SET_NO_NEW_PRIVS, 1) != 0:
        return {"no_new_privs": f"failed: {_errno_text()}"}
    applied.update(_landlock(list(read), list(write), listen, list(list_only)))
    if processes:
        applied["capabilities"] = _drop_capabilities()
        applied["seccomp"] = _seccomp()
    return applied
