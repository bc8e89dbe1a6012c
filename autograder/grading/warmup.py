"""A warm Numba cache before any unit starts.

dlcore's kernels are compiled on first use and cached on disk
(``@njit(cache=True)``), in dlcore's ``__pycache__`` or the course's
``NUMBA_CACHE_DIR`` (:func:`autograder.paths.numba_cache_dir`). Every
kernel nbgrader starts, and the trusted re-check's fork server, load them
from there: with a cold cache each of N workers would compile the same
kernels at once (seconds each, N times). So the first worker of a machine
runs :data:`EXERCISE` in a fresh interpreter, with one thread, under a file
lock; the others wait for it, then find the cache warm. Done once per
process (a marker in the process), and not at all where a marker file
says the caches are as the last warm-up left them (:func:`_cache_state`):
the workers of a machine start together, and each would otherwise load
every kernel and matplotlib again, one after the other, under the lock.

The same interpreter makes matplotlib's font list in this user's cache
folder, which every kernel's private ``MPLCONFIGDIR`` is then seeded from
(:func:`autograder.trusted.sandbox.seed_font_list`): otherwise the first
kernel of a fresh machine would search the system's fonts, and with it
every kernel after it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

from filelock import FileLock

from .. import paths
from ..trusted.sandbox import font_lists

__all__ = ["warm_numba_cache", "EXERCISE"]

# Calls every family of dlcore kernels in both dtypes (stride 1 keeping the
# width and stride 2 take the two convolution layouts).
EXERCISE = """
import matplotlib.font_manager
import numpy as np
import dlcore.functional as F
rng = np.random.default_rng(0)
for dtype in (np.float32, np.float64):
    x = rng.standard_normal((2, 3, 8, 8)).astype(dtype)
    W = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    b = np.zeros(4, dtype)
    for stride, padding in ((1, 1), (2, 0)):
        out, cache = F.conv2d_forward(x, W, b, stride=stride, padding=padding)
        F.conv2d_backward(np.ones_like(out), cache)
    x1 = rng.standard_normal((2, 3, 16)).astype(dtype)
    out, cache = F.conv1d_forward(x1, W[..., 0], b, stride=1, padding=1)
    F.conv1d_backward(np.ones_like(out), cache)
    for forward, backward in (
        (F.maxpool2d_forward, F.maxpool2d_backward),
        (F.avgpool2d_forward, F.avgpool2d_backward),
    ):
        out, cache = forward(x, 2)
        backward(np.ones_like(out), cache)
    for forward, backward in (
        (F.maxpool1d_forward, F.maxpool1d_backward),
        (F.avgpool1d_forward, F.avgpool1d_backward),
    ):
        out, cache = forward(x1, 2)
        backward(np.ones_like(out), cache)
"""

_WARM: list[bool] = []  # non-empty once this process warmed (or tried)


def _lock_path() -> Path:
    cache = paths.numba_cache_dir()
    folder = cache if cache is not None else Path(tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f".dlcore-numba-warmup-{os.getuid()}.lock"


def _cache_state() -> str:
    """A digest of what a warm cache is: dlcore's kernel sources, Numba's
    version and this interpreter's, and the cache's index files and font
    lists as they are now (a cache cleared or refilled is another state)."""
    digest = hashlib.sha256()
    for fact in (sys.version, platform.machine(), importlib.metadata.version("numba")):
        digest.update(fact.encode())
    spec = importlib.util.find_spec("dlcore")
    kernels = Path(spec.origin).parent / "_kernels" if spec and spec.origin else None
    if kernels is not None:
        for source in sorted(kernels.glob("*.py")):
            digest.update(source.read_bytes())
    cache = paths.numba_cache_dir()
    folder = cache if cache is not None else kernels
    indexes = sorted(folder.rglob("*.nbi")) if folder and folder.is_dir() else []
    for path in [*indexes, *map(Path, font_lists())]:
        stat = path.stat()
        digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def _is_warm(marker: Path) -> bool:
    try:
        return marker.read_text() == _cache_state()
    except OSError:
        return False


def warm_numba_cache(timeout: float = 600) -> bool:
    """Fill the Numba cache and the font list once per process, unless the
    marker says they are warm; False if the exercise failed (grading goes
    on: each kernel then compiles what it needs)."""
    if _WARM:
        return _WARM[0]
    lock = _lock_path()
    marker = lock.with_suffix(".warm")
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    with FileLock(str(lock), timeout=timeout):
        if _is_warm(marker):
            _WARM.append(True)
            return True
        proc = subprocess.run(
            [sys.executable, "-c", EXERCISE],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode == 0:
            marker.write_text(_cache_state())
    _WARM.append(proc.returncode == 0)
    return _WARM[0]
