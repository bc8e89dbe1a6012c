"""What both convolution paths share: reused scratch memory, the thresholds
for waking threads, and the weights as the correlation kernels take them.

The thresholds are read as module attributes (``conv_common.MIN_...``) at
call time, so a test can lower them to force the work onto several threads.
"""

from __future__ import annotations

import math
import threading

import numpy as np

__all__ = [
    "MIN_COPY_PER_THREAD",
    "MIN_WORK_PER_THREAD",
    "round_up",
    "rows_per_pass",
    "scratch",
    "tap_weights",
]

# A thread is only worth waking for about this many multiply-adds: waking
# one costs tens of microseconds. Copies are limited by memory bandwidth
# and gain little from a second thread, so they split only when huge.
MIN_WORK_PER_THREAD = 6_000_000
MIN_COPY_PER_THREAD = 1_000_000


_workspace = threading.local()


def scratch(name: str, shape: tuple, dtype) -> np.ndarray:
    """A temporary array whose memory is reused from call to call (contents undefined).

    Fresh multi-megabyte temporaries cost a page fault per 4 KiB on first
    touch, which on a virtual machine can take longer than the convolution
    itself. One buffer per name, dtype and thread, grown as needed.
    """
    size = math.prod(shape)
    key = (name, np.dtype(dtype))
    buffer = _workspace.__dict__.get(key)
    if buffer is None or buffer.size < size:
        buffer = _workspace.__dict__[key] = np.empty(size, dtype=dtype)
    return buffer[:size].reshape(shape)


def round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def rows_per_pass(dtype) -> int:
    # Eight output rows per pass suit float32's 16-wide vectors, four float64.
    return 8 if dtype == np.float32 else 4


def tap_weights(weights, n_taps: int):
    """Weights ``(R, C, KH, KW)`` as a C-contiguous ``(R, n_taps)`` matrix.

    One column per tap ``(c, kh, kw)``, zero columns up to ``n_taps`` (the
    correlation kernel takes four taps at a time).
    """
    R = weights.shape[0]
    if weights[0].size == n_taps:
        return np.ascontiguousarray(weights).reshape(R, n_taps)
    matrix = np.zeros((R, n_taps), dtype=weights.dtype)
    matrix[:, : weights[0].size] = weights.reshape(R, -1)
    return matrix
