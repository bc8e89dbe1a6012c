"""Start-up costs, each measured in fresh Python processes.

* ``import dlcore`` (it must compile nothing);
* the first convolution (forward + backward) of a process whose Numba cache
  is warm: what a student waits for in a new notebook kernel;
* the cold compile of every kernel for float32 and float64, into an empty
  cache directory (``NUMBA_CACHE_DIR``): what a clean CI clone pays once.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import textwrap

_FIRST_CALL = textwrap.dedent(
    """
    import time
    start = time.perf_counter()
    import numpy as np
    import dlcore.functional as F
    imported = time.perf_counter()
    x = np.ones((2, 3, 8, 8), dtype=np.{dtype})
    out, cache = F.conv2d_forward(x, np.ones((4, 3, 3, 3)), np.zeros(4), padding=1)
    F.conv2d_backward(np.ones_like(out), cache)
    done = time.perf_counter()
    print(imported - start, done - imported)
    """
)

# Every kernel, both dtypes. (Padding 1 and stride 1 take the kernels that
# go by groups of images, stride 2 those on the whole batch.)
_ALL_KERNELS = textwrap.dedent(
    """
    import time
    import numpy as np
    import dlcore.functional as F
    from dlcore._kernels import conv, pooling
    start = time.perf_counter()
    for dtype in (np.float32, np.float64):
        x = np.ones((2, 3, 8, 8), dtype=dtype)
        for stride in (1, 2):
            out, cache = F.conv2d_forward(
                x, np.ones((4, 3, 3, 3)), np.zeros(4), stride=stride, padding=1
            )
            F.conv2d_backward(np.ones_like(out), cache)
        for kind in ("max", "avg"):
            out, cache = getattr(F, kind + "pool2d_forward")(x, 2)
            getattr(F, kind + "pool2d_backward")(np.ones_like(out), cache)
    seconds = time.perf_counter() - start
    count = sum(
        len(getattr(getattr(m, name), "signatures", []))
        for m in (conv, pooling) for name in dir(m)
    )
    print(seconds, count)
    """
)


def _python(code: str, env=None) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=True,
    )
    return result.stdout.strip()


def _wall(code: str, env=None) -> float:
    import time

    start = time.perf_counter()
    _python(code, env)
    return time.perf_counter() - start


def measure(repeat: int = 5) -> dict:
    """Medians in seconds over ``repeat`` fresh processes (one for the cold compile)."""
    results = {
        "python -c pass": statistics.median(_wall("pass") for _ in range(repeat)),
        'python -c "import dlcore"': statistics.median(
            _wall("import dlcore") for _ in range(repeat)
        ),
    }
    for dtype in ("float32", "float64"):
        code = _FIRST_CALL.format(dtype=dtype)
        _python(code)  # make sure the cache is warm
        runs = [tuple(map(float, _python(code).split())) for _ in range(repeat)]
        results[f"import dlcore.functional ({dtype} process)"] = statistics.median(
            r[0] for r in runs
        )
        results[f"first conv2d forward+backward, warm cache ({dtype})"] = (
            statistics.median(r[1] for r in runs)
        )
    with tempfile.TemporaryDirectory() as cache_dir:
        seconds, count = _python(_ALL_KERNELS, {"NUMBA_CACHE_DIR": cache_dir}).split()
        results[
            f"cold compile of all {count} kernel specializations (float32+float64)"
        ] = float(seconds)
        seconds, _ = _python(_ALL_KERNELS, {"NUMBA_CACHE_DIR": cache_dir}).split()
        results["the same, loaded from the cache"] = float(seconds)
    return results
