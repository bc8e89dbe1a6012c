"""A real PostgreSQL server for the tests, in a temporary folder.

The ``postgres_db`` fixture starts one server per test session
(``initdb`` and ``pg_ctl`` on a free port of 127.0.0.1, trust
authentication, nothing outside its folder), hands each test a new empty
database's SQLAlchemy URL, and stops the server at the end. The server
binaries come from the Debian ``postgresql`` package (on PATH, or in
``/usr/lib/postgresql/<version>/bin``); ``.ci/run`` installs it. Without
them the tests skip, saying so, except on CI (``CI=true``), where they
fail: a CI machine must run them.

PostgreSQL refuses to run as root: as root (CI containers) the server runs
as the package's ``postgres`` user, from a folder that user owns.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

SERVER_USER = "postgres"  # the Debian package's account, used when root


def _binaries() -> Path | None:
    """The folder holding initdb and pg_ctl, or None."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_server_user() -> list[str]:
    """The command prefix that runs the server as a non-root user."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        pytest.fail(f"running as root and no {SERVER_USER!r} user to run PostgreSQL")
    return ["runuser", "-u", SERVER_USER, "--"]


class Server:
    """A running server; :meth:`new_database` gives a fresh database's URL."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.folder = Path(tempfile.mkdtemp(prefix="autograder-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.prefix = _as_server_user()
        if self.prefix:
            entry = pwd.getpwnam(SERVER_USER)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        self.user = SERVER_USER if self.prefix else pwd.getpwuid(os.geteuid()).pw_name
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            self.user,
            "--auth=trust",
            "-E",
            "UTF8",
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.folder} -c fsync=off "
            "-c max_connections=100"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options,
            "-l", str(self.folder / "server.log"), "-w", "-t", "120", "start",
        )  # fmt: skip

    def _run(self, tool: str, *args: str) -> None:
        proc = subprocess.run(
            [*self.prefix, str(self.bindir / tool), *args],
            capture_output=True,
            text=True,
            timeout=180,
        )
        if proc.returncode:
            raise RuntimeError(f"{tool} failed:\n{proc.stdout}\n{proc.stderr}")

    def new_database(self) -> str:
        name = f"gradebook_{uuid.uuid4().hex[:12]}"
        self._run(
            "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, name
        )
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server():
    bindir = _binaries()
    if bindir is None:
        why = (
            "no PostgreSQL server binaries (initdb, pg_ctl): install the "
            "Debian package `postgresql` (.ci/run does)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(why + "; on CI they must be there")
        pytest.skip(why)
    server = Server(bindir)
    yield server
    server.stop()


@pytest.fixture
def postgres_db(postgres_server) -> str:
    """The SQLAlchemy URL of a new, empty database on the test server."""
    return postgres_server.new_database()
