"""Run a serial kernel on contiguous chunks of its work in a few threads.

The kernels release the GIL (``nogil=True``), so plain Python threads run
them in parallel. This is used instead of ``numba.prange`` because Numba's
OpenMP workers and OpenBLAS's workers both spin-wait between calls: a
training step that alternates a parallel Numba kernel with a NumPy matrix
product then stalls for several milliseconds per switch on a 2-core
machine. Idle Python threads sleep instead of spinning.

The number of threads is the number of CPUs this process may use, or the
environment variable ``DLCORE_NUM_THREADS``; :func:`set_num_threads`
changes it at run time (the benchmarks use it to match PyTorch's count).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["get_num_threads", "set_num_threads", "split_range", "run_chunks"]


def _default_num_threads() -> int:
    requested = os.environ.get("DLCORE_NUM_THREADS", "").strip()
    if requested:
        try:
            n = int(requested)
        except ValueError:
            raise ValueError(
                f"DLCORE_NUM_THREADS must be a positive integer, got {requested!r}"
            ) from None
        if n < 1:
            raise ValueError(f"DLCORE_NUM_THREADS must be >= 1, got {n}")
        return n
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_num_threads = _default_num_threads()
_executor: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def get_num_threads() -> int:
    """How many threads the kernels may use (the calling thread included)."""
    return _num_threads


def set_num_threads(n: int) -> None:
    """Let the kernels use ``n`` threads from now on (``1``: run serially)."""
    global _num_threads, _executor
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    with _lock:
        _num_threads = n
        if _executor is not None:
            _executor.shutdown(wait=True)
            _executor = None


def _forget_executor_after_fork() -> None:
    # A forked child inherits the executor object but not its threads;
    # submitting to it would wait forever.
    global _executor
    _executor = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_executor_after_fork)


def _get_executor() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                max_workers=max(_num_threads - 1, 1),
                thread_name_prefix="dlcore-kernel",
            )
        return _executor


def split_range(total: int, cost_per_item: float, min_cost: float) -> list:
    """Cut ``range(total)`` into at most ``get_num_threads()`` equal chunks.

    A chunk is only worth a thread when it holds at least ``min_cost``
    units of work (waking a thread costs tens of microseconds), so small
    problems get a single chunk and run in the calling thread.
    """
    if total <= 0:
        return []
    worth = int(total * cost_per_item // max(min_cost, 1e-300))
    n = max(1, min(_num_threads, worth, total))
    bounds = [total * k // n for k in range(n + 1)]
    return [(bounds[k], bounds[k + 1]) for k in range(n)]


def run_chunks(kernel, args: tuple, chunks: list) -> None:
    """Call ``kernel(*args, start, stop)`` once per chunk, in parallel.

    The first chunk runs in the calling thread, the others in the pool.
    ``args`` may differ per chunk when given as a list of tuples, one per
    chunk (each thread writing its own partial result).
    """
    per_chunk = isinstance(args, list)
    if len(chunks) == 1:
        kernel(*(args[0] if per_chunk else args), *chunks[0])
        return
    executor = _get_executor()
    futures = [
        executor.submit(kernel, *(args[k] if per_chunk else args), start, stop)
        for k, (start, stop) in enumerate(chunks)
        if k > 0
    ]
    kernel(*(args[0] if per_chunk else args), *chunks[0])
    for future in futures:
        future.result()
