"""Where the course lives and where the instructor's private state goes.

* The *course root* holds ``solutions/`` (nbgrader's source directory) and
  ``notebooks/`` (its release directory): ``$AUTOGRADER_COURSE_ROOT`` if set,
  else the checkout this package sits in, else the working directory.
* The *state directory* holds what must never be committed or shipped to
  students: the gradebook, the course secret that hidden seeds are derived
  from, the hidden reference outputs, autograded submissions and feedback.
  ``$AUTOGRADER_STATE_DIR`` if set, else ``<course root>/autograder/course/``
  (git-ignored) in a checkout, else a per-user data directory.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = [
    "submitted_students",
    "course_root",
    "state_dir",
    "ensure_state_dir",
    "SECRET_ENV",
    "references_dir",
    "course_secret",
    "numba_cache_dir",
]

_PACKAGE_DIR = Path(__file__).resolve().parent

# No longer accepted: a process running student code can read the
# environment of its parents (/proc/<pid>/environ), the grader's included.
SECRET_ENV = "AUTOGRADER_SECRET"

# The assignment nbgrader's kernels are autograding (set by autograde).
ASSIGNMENT_ENV = "AUTOGRADER_ASSIGNMENT"


def course_root() -> Path:
    env = os.environ.get("AUTOGRADER_COURSE_ROOT")
    if env:
        return Path(env).resolve()
    checkout = _PACKAGE_DIR.parent
    if (checkout / "solutions").is_dir():
        return checkout
    return Path.cwd().resolve()


def _user_dir(kind: str, fallback: str) -> Path:
    base = os.environ.get(kind)
    return Path(base) if base else Path.home() / fallback


def state_dir() -> Path:
    env = os.environ.get("AUTOGRADER_STATE_DIR")
    if env:
        return Path(env).resolve()
    root = course_root()
    if (root / "solutions").is_dir() and os.access(root, os.W_OK):
        return root / "autograder" / "course"
    return _user_dir("XDG_DATA_HOME", ".local/share") / "dlcore-autograder"


def references_dir() -> Path:
    return state_dir() / "references"


def numba_cache_dir() -> Path | None:
    """Where Numba should cache compiled kernels, if not next to dlcore.

    ``$NUMBA_CACHE_DIR`` if set. Otherwise None while dlcore's own folder is
    writable (Numba then caches in its ``__pycache__``, shared with every
    other use of dlcore), and a per-user cache folder when dlcore is
    installed read-only.
    """
    env = os.environ.get("NUMBA_CACHE_DIR")
    if env:
        return Path(env)
    import importlib.util

    spec = importlib.util.find_spec("dlcore")
    origin = Path(spec.origin).parent if spec and spec.origin else None
    if origin is not None and os.access(origin, os.W_OK):
        return None
    return _user_dir("XDG_CACHE_HOME", ".cache") / "dlcore" / "numba"


def ensure_state_dir() -> Path:
    """The state directory, created if needed, readable by its owner only
    (``0700``: the gradebook, the secret and other students' work)."""
    folder = state_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if folder.stat().st_uid == os.getuid():
        folder.chmod(0o700)
    return folder


def course_secret(create: bool = True) -> str:
    """The random secret hidden seeds are derived from.

    ``<state dir>/secret`` (mode ``0600``), created with 128 random bits on
    first use when ``create`` is true. Never from the environment: refused
    with an error if :data:`SECRET_ENV` is set.
    """
    if os.environ.get(SECRET_ENV):
        raise RuntimeError(
            f"${SECRET_ENV} is set, but the course secret may not sit in an "
            "environment variable: student code can read the environment of "
            "the processes above it (/proc/<pid>/environ). Write it to "
            f"{state_dir() / 'secret'} (mode 0600) and unset ${SECRET_ENV}."
        )
    path = state_dir() / "secret"
    if path.is_file():
        return path.read_text().strip()
    if not create:
        raise FileNotFoundError(
            f"no course secret at {path}; run `python -m autograder references`"
        )
    ensure_state_dir()
    value = secrets.token_hex(16)
    # Write-then-link so that two kernels starting at once agree on one secret.
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()


def submitted_students(submissions: Path, assignment: str | None = None):
    """Who submitted what, from a folder laid out ``<student>/<assignment>/``.

    With ``assignment``: the sorted list of its students. Without: a dict
    ``{assignment: sorted students}`` over every assignment found.
    """
    by_assignment: dict[str, list[str]] = {}
    folder = Path(submissions)
    for student in (
        sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    ):
        for work in sorted(p for p in student.iterdir() if p.is_dir()):
            by_assignment.setdefault(work.name, []).append(student.name)
    if assignment is None:
        return by_assignment
    return by_assignment.get(assignment, [])
