"""Reference functions and custom comparisons of 06_convolution.

The parent's side of ``autograder/assignments/a06_convolution.py``: what only
the grading process computes (expected outputs, judgements of a result).
The re-check's child never runs it, so it may use anything of dlcore.
"""

from __future__ import annotations

import numpy as np

# ----------------------------------------------------------- output size


def _conv_output_size(n, kernel_size, stride=1, padding=0):
    if min(n, kernel_size, stride) < 1 or padding < 0:
        raise ValueError("impossible setting")
    if kernel_size > n + 2 * padding:
        raise ValueError("no window fits")
    return (n + 2 * padding - kernel_size) // stride + 1


# ------------------------------------------------- 1-D derivation steps


def _toeplitz(w, n):
    """The (n - F + 1, n) matrix of a valid 1-D correlation with w."""
    T = np.zeros((n - len(w) + 1, n))
    for i in range(n - len(w) + 1):
        T[i, i : i + len(w)] = w
    return T


def _input_grad_reference(g, w, x):
    return _toeplitz(w, len(x)).T @ g


def _weight_grad_reference(g, w, x):
    return np.array([g @ x[k : k + len(g)] for k in range(len(w))])


def _window_grad_reference(windows):
    grads = []
    for window in windows:
        grad = np.zeros_like(window)
        grad.flat[np.argmax(window)] = 1.0
        grads.append(grad)
    return tuple(grads)


# ------------------------------------------------------ inline questions


def _exact_int(correct):
    def compare(expected, received):
        if isinstance(received, bool) or not isinstance(received, (int, np.integer)):
            return f"expected an int, received {received!r}"
        return None if received == correct else f"{received} is not the right value"

    return compare


def _exact_list(correct):
    def compare(expected, received):
        try:
            values = [float(v) for v in received]
        except (TypeError, ValueError):
            return f"expected a list of numbers, received {received!r}"
        if values == [float(v) for v in correct]:
            return None
        return f"{received!r} is not the right gradient"

    return compare
