"""File operations on folders that student code could have written to.

nbgrader's kernel runs a submission in ``autograded/<student>/<assignment>/``
and may write there, so anything the grader later reads, writes, copies or
``chmod``\\ s in that folder may have been replaced, while the kernel ran or
by a process it left behind, with

* a **symbolic link** (``notebook.ipynb -> ../../../gradebook.db``): an
  ordinary ``open(path, "w")`` or ``os.chmod`` follows it and clobbers the
  gradebook, an ordinary copy follows it and hands its target (the course
  secret) to the student;
* a **special file** (a FIFO blocks the reader forever, ``/dev/zero`` never
  ends, a socket cannot be read).

Every function here refuses both, for every component of the path below the
folder it is given (``openat`` one name at a time with ``O_NOFOLLOW``), and
writes by creating a new file and renaming it over the old name, which
replaces a planted link instead of following it.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "NotRegularFile",
    "read_regular",
    "write_replacing",
    "copy_regular",
    "chmod_regular",
    "regular_files",
    "planted",
]

_NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO must not wait for a writer.
_READ = os.O_RDONLY | os.O_NONBLOCK | _NOFOLLOW
_DIR = os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL


class NotRegularFile(OSError):
    """The path is a link, a special file or lies beneath one."""


def _parts(base: Path, path: Path) -> list[str]:
    relative = os.path.relpath(path, base)
    parts = Path(relative).parts
    if not parts or parts[0] == os.pardir or os.path.isabs(relative):
        raise ValueError(f"path must lie beneath {base}, got {path}")
    return list(parts)


def _open_beneath(base: Path, path: Path, flags: int, mode: int = 0o600) -> int:
    """``open`` of ``path`` (beneath ``base``) that follows no link on the way.

    ``base`` itself is the grader's (it may be a link, e.g. ``/tmp`` on some
    systems); every name below it is opened with ``O_NOFOLLOW``.
    """
    parts = _parts(base, path)
    folder = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for name in parts[:-1]:
            try:
                inner = os.open(name, _DIR, dir_fd=folder)
            except OSError as err:
                raise NotRegularFile(f"{path}: {name} is not a folder") from err
            os.close(folder)
            folder = inner
        try:
            return os.open(parts[-1], flags | _NOFOLLOW, mode, dir_fd=folder)
        except OSError as err:
            if err.errno == errno.ELOOP:  # the last name is a link
                raise NotRegularFile(f"{path} is a symbolic link") from err
            raise
    finally:
        os.close(folder)


def read_regular(base: Path, path: Path, limit: int | None = None) -> bytes:
    """The bytes of a regular file beneath ``base`` (NotRegularFile else).

    ``limit``: refuse files larger than this many bytes.
    """
    fd = _open_beneath(Path(base), Path(path), _READ)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile(f"{path} is not a regular file")
        if limit is not None and info.st_size > limit:
            raise NotRegularFile(f"{path} is larger than {limit} bytes")
        os.set_blocking(fd, True)
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            if limit is not None and sum(map(len, chunks)) > limit:
                raise NotRegularFile(f"{path} grew beyond {limit} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_replacing(base: Path, path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` (beneath ``base``) as a new regular file.

    The data goes into a fresh file (``O_EXCL``) in the same folder, which
    is then renamed over ``path``: whatever ``path`` was (a link, a FIFO),
    it is replaced, never opened.
    """
    base, path = Path(base), Path(path)
    _parts(base, path)
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        name = f".{path.name}.{secrets.token_hex(8)}"
        try:
            fd = _open_beneath(base, folder / name, _CREATE, mode)
        except FileExistsError:
            continue
        break
    else:
        raise FileExistsError(f"no free temporary name next to {path}")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            os.fchmod(fh.fileno(), mode)
        os.replace(folder / name, path)
    except BaseException:
        Path(folder / name).unlink(missing_ok=True)
        raise


def copy_regular(src_base: Path, src: Path, dst_base: Path, dst: Path) -> None:
    """Copy a regular file (NotRegularFile if ``src`` is anything else),
    keeping its permission bits, without following a link at either end."""
    fd = _open_beneath(Path(src_base), Path(src), _READ)
    try:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
    finally:
        os.close(fd)
    write_replacing(dst_base, dst, read_regular(src_base, src), mode & 0o777)


def chmod_regular(base: Path, path: Path, mode: int) -> bool:
    """``chmod`` a regular file or folder beneath ``base`` through its own
    descriptor; False (nothing changed) for a link or a special file."""
    try:
        fd = _open_beneath(Path(base), Path(path), os.O_RDONLY | os.O_NONBLOCK)
    except (NotRegularFile, OSError):
        return False
    try:
        kind = stat.S_IFMT(os.fstat(fd).st_mode)
        if kind not in (stat.S_IFREG, stat.S_IFDIR):
            return False
        os.fchmod(fd, mode)
        return True
    finally:
        os.close(fd)


def _walk(folder: Path) -> Iterator[tuple[Path, os.stat_result]]:
    """Every entry beneath ``folder`` with its ``lstat``; links not followed."""
    for dirname, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirname) / name
            try:
                yield path, path.lstat()
            except OSError:
                continue


def regular_files(folder: Path) -> list[Path]:
    """The regular files beneath ``folder`` (links and special files left out)."""
    return sorted(p for p, info in _walk(Path(folder)) if stat.S_ISREG(info.st_mode))


def planted(folder: Path) -> list[Path]:
    """The links and special files beneath ``folder``: what student code may
    have left for the grader to trip over."""
    return sorted(
        p
        for p, info in _walk(Path(folder))
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode))
    )
