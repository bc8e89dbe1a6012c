"""Window loops of max- and average-pooling, on a stack of 2-D planes.

Every kernel takes the planes of a batch as one C-contiguous ``(P, H, W)``
array (``P = N * C``; a 1-D signal is a plane of height 1) and handles the
planes ``start <= p < stop`` (one thread's share). Window ``(i, j)`` covers
rows ``i*sh ... i*sh + kh - 1`` and columns ``j*sw ... j*sw + kw - 1``.

The course's usual 2x2 window gets a hand-unrolled path: with the window
size only known at run time, the two nested loops over a 2x2 window cost
three to four times more than the four additions or comparisons inside.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True, nogil=True)
def window_max(x, kh, kw, sh, sw, out, argmax, start, stop):
    """Maximum of every window, and where it is.

    ``out[p, i, j]`` is the largest value of window ``(i, j)`` of plane
    ``p`` and ``argmax[p, i, j]`` its flat index ``h * W + w`` in the plane.
    Windows are scanned in row-major order and only a strictly larger value
    replaces the current maximum, so ties go to the first one. A NaN wins
    over numbers (the maximum of anything with a NaN is NaN, as in NumPy
    and PyTorch); again the first NaN.
    """
    width = x.shape[2]
    _, out_h, out_w = out.shape
    for p in range(start, stop):
        plane = x[p]
        for i in range(out_h):
            top = i * sh
            out_row = out[p, i]
            where_row = argmax[p, i]
            if kh == 2 and kw == 2:
                upper = plane[top]
                lower = plane[top + 1]
                for j in range(out_w):
                    left = j * sw
                    v0 = upper[left]
                    v1 = upper[left + 1]
                    v2 = lower[left]
                    v3 = lower[left + 1]
                    best, k = v0, 0  # k: offset in the plane from the corner
                    if v1 > best:
                        best, k = v1, 1
                    if v2 > best:
                        best, k = v2, width
                    if v3 > best:
                        best, k = v3, width + 1
                    if v0 != v0 or v1 != v1 or v2 != v2 or v3 != v3:  # a NaN
                        if v0 != v0:
                            best, k = v0, 0
                        elif v1 != v1:
                            best, k = v1, 1
                        elif v2 != v2:
                            best, k = v2, width
                        else:
                            best, k = v3, width + 1
                    out_row[j] = best
                    where_row[j] = top * width + left + k
                continue
            for j in range(out_w):
                left = j * sw
                best = plane[top, left]
                where = top * width + left
                saw_nan = False
                for a in range(kh):
                    row = plane[top + a]
                    for b in range(kw):
                        value = row[left + b]
                        # Selects instead of an if: random data would
                        # mispredict the branch half of the time.
                        larger = value > best
                        best = value if larger else best
                        where = (top + a) * width + left + b if larger else where
                        saw_nan |= value != value
                if saw_nan:  # rare: scan backwards, ending on the first NaN
                    for a in range(kh - 1, -1, -1):
                        row = plane[top + a]
                        for b in range(kw - 1, -1, -1):
                            if row[left + b] != row[left + b]:
                                best = row[left + b]
                                where = (top + a) * width + left + b
                out_row[j] = best
                where_row[j] = where


@njit(cache=True, nogil=True)
def scatter_add(values, index, dx, start, stop):
    """``dx[p, index[p, q]] += values[p, q]`` for every ``q`` of planes ``p``.

    The max-pooling backward pass: each window's gradient goes to the
    position of its maximum. Overlapping windows that share a maximum add
    up. ``values`` and ``index`` are ``(P, Q)``, ``dx`` is ``(P, H * W)``.
    """
    n = values.shape[1]
    for p in range(start, stop):
        grads = values[p]
        where = index[p]
        target = dx[p]
        for q in range(n):
            target[where[q]] += grads[q]


@njit(cache=True, nogil=True)
def window_sum(x, kh, kw, sh, sw, out, start, stop):
    """``out[p, i, j]`` = sum of window ``(i, j)`` of plane ``p``."""
    _, out_h, out_w = out.shape
    for p in range(start, stop):
        plane = x[p]
        for i in range(out_h):
            top = i * sh
            out_row = out[p, i]
            if kh == 2 and kw == 2:
                upper = plane[top]
                lower = plane[top + 1]
                for j in range(out_w):
                    left = j * sw
                    out_row[j] = (upper[left] + upper[left + 1]) + (
                        lower[left] + lower[left + 1]
                    )
                continue
            for j in range(out_w):
                left = j * sw
                # Start from the first element (not 0.0, which is float64).
                total = plane[top, left]
                for a in range(kh):
                    row = plane[top + a]
                    for b in range(kw):
                        if a > 0 or b > 0:
                            total += row[left + b]
                out_row[j] = total


@njit(cache=True, nogil=True)
def window_spread(g, kh, kw, sh, sw, dx, start, stop):
    """Add ``g[p, i, j]`` to every element of window ``(i, j)`` of ``dx[p]``.

    The transpose of :func:`window_sum` (its backward pass); overlapping
    windows accumulate. ``dx`` must start at zero.
    """
    _, out_h, out_w = g.shape
    for p in range(start, stop):
        plane = dx[p]
        for i in range(out_h):
            top = i * sh
            g_row = g[p, i]
            if kh == 2 and kw == 2:
                upper = plane[top]
                lower = plane[top + 1]
                for j in range(out_w):
                    left = j * sw
                    value = g_row[j]
                    upper[left] += value
                    upper[left + 1] += value
                    lower[left] += value
                    lower[left + 1] += value
                continue
            for j in range(out_w):
                left = j * sw
                value = g_row[j]
                for a in range(kh):
                    row = plane[top + a]
                    for b in range(kw):
                        row[left + b] += value
