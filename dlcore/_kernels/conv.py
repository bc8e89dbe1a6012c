"""The loops of every convolution: a weighted sum of shifted planes, its
weight gradient, and the copies into and out of the layout they work on.

Layout (set up and explained in full by :mod:`dlcore.functional.conv`). The
zero-padded input is stored *channel-major*: row ``c`` of ``src`` holds
channel ``c`` of every image of the batch, each image flattened row by row
(rows ``pitch`` entries apart, images ``slot`` entries apart, zeros in
between). In this flat layout tap ``(kh, kw)`` of the window at position
``j`` reads ``src[c, j + kh * pitch + kw]``, so a stride-1 correlation is

.. math::

    \\text{out}[r, j] = \\sum_t \\text{weights}[r, t]\\,
    \\text{src}[\\text{channels}[t],\\ j + \\text{offsets}[t]],

one term per *tap* ``t = (c, kh, kw)``: a weighted sum of shifted copies of
whole input planes. Positions ``j`` whose window sticks out of its image are
computed too and thrown away by the caller; in exchange every inner loop
runs over a long contiguous range of ``j``, which the compiler turns into
SIMD instructions.

:func:`correlate_planes` takes four taps and four (or eight) output rows at
a time, the caller padding ``taps`` with zero weights to a multiple of 4:
each loaded input value then feeds 16 (32) multiply-adds, and each output
value is loaded and stored once per four taps.
"""

from __future__ import annotations

from numba import njit

# Positions per block: the output rows and input rows of a block stay in
# the L1 cache while the taps are summed (measured best on course shapes).
BLOCK = 1024
# The weight gradient only reads its blocks, longer ones amortize the
# sixteen running sums.
GRAD_BLOCK = 4096

# 'reassoc' lets the weight-gradient sums be vectorized (summed in several
# lanes), 'contract' allows fused multiply-adds. No flag that assumes away
# NaN or infinity.
FASTMATH = {"reassoc", "contract"}


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def correlate_planes(src, weights, channels, offsets, out, rows_per_pass, start, stop):
    """``out[r, j] = sum_t weights[r, t] * src[channels[t], j + offsets[t]]``.

    Parameters
    ----------
    src : (C, M + margin) array
        Channel-major input planes; ``margin >= max(offsets)``.
    weights : (R, T) array
        ``T`` a multiple of 4 (zero taps as padding).
    channels, offsets : (T,) int arrays
        Input row and shift of each tap.
    out : (R, M) array, written for columns ``start <= j < stop``.
    rows_per_pass : int
        8 or 4: output rows summed at once (8 is faster in float32, 4 in
        float64); the remaining rows go four, then one at a time.
    start, stop : int
        The range of positions this call computes (one thread's share).
    """
    rows, taps = weights.shape
    for j0 in range(start, stop, BLOCK):
        n = min(BLOCK, stop - j0)
        r = 0
        if rows_per_pass == 8:
            while r + 8 <= rows:
                o0 = out[r, j0 : j0 + n]
                o0[:] = 0
                o1 = out[r + 1, j0 : j0 + n]
                o1[:] = 0
                o2 = out[r + 2, j0 : j0 + n]
                o2[:] = 0
                o3 = out[r + 3, j0 : j0 + n]
                o3[:] = 0
                o4 = out[r + 4, j0 : j0 + n]
                o4[:] = 0
                o5 = out[r + 5, j0 : j0 + n]
                o5[:] = 0
                o6 = out[r + 6, j0 : j0 + n]
                o6[:] = 0
                o7 = out[r + 7, j0 : j0 + n]
                o7[:] = 0
                for t in range(0, taps, 4):
                    a = j0 + offsets[t]
                    x0 = src[channels[t], a : a + n]
                    a = j0 + offsets[t + 1]
                    x1 = src[channels[t + 1], a : a + n]
                    a = j0 + offsets[t + 2]
                    x2 = src[channels[t + 2], a : a + n]
                    a = j0 + offsets[t + 3]
                    x3 = src[channels[t + 3], a : a + n]
                    w00 = weights[r, t]
                    w01 = weights[r, t + 1]
                    w02 = weights[r, t + 2]
                    w03 = weights[r, t + 3]
                    w10 = weights[r + 1, t]
                    w11 = weights[r + 1, t + 1]
                    w12 = weights[r + 1, t + 2]
                    w13 = weights[r + 1, t + 3]
                    w20 = weights[r + 2, t]
                    w21 = weights[r + 2, t + 1]
                    w22 = weights[r + 2, t + 2]
                    w23 = weights[r + 2, t + 3]
                    w30 = weights[r + 3, t]
                    w31 = weights[r + 3, t + 1]
                    w32 = weights[r + 3, t + 2]
                    w33 = weights[r + 3, t + 3]
                    w40 = weights[r + 4, t]
                    w41 = weights[r + 4, t + 1]
                    w42 = weights[r + 4, t + 2]
                    w43 = weights[r + 4, t + 3]
                    w50 = weights[r + 5, t]
                    w51 = weights[r + 5, t + 1]
                    w52 = weights[r + 5, t + 2]
                    w53 = weights[r + 5, t + 3]
                    w60 = weights[r + 6, t]
                    w61 = weights[r + 6, t + 1]
                    w62 = weights[r + 6, t + 2]
                    w63 = weights[r + 6, t + 3]
                    w70 = weights[r + 7, t]
                    w71 = weights[r + 7, t + 1]
                    w72 = weights[r + 7, t + 2]
                    w73 = weights[r + 7, t + 3]
                    for i in range(n):
                        v0 = x0[i]
                        v1 = x1[i]
                        v2 = x2[i]
                        v3 = x3[i]
                        o0[i] += w00 * v0 + w01 * v1 + w02 * v2 + w03 * v3
                        o1[i] += w10 * v0 + w11 * v1 + w12 * v2 + w13 * v3
                        o2[i] += w20 * v0 + w21 * v1 + w22 * v2 + w23 * v3
                        o3[i] += w30 * v0 + w31 * v1 + w32 * v2 + w33 * v3
                        o4[i] += w40 * v0 + w41 * v1 + w42 * v2 + w43 * v3
                        o5[i] += w50 * v0 + w51 * v1 + w52 * v2 + w53 * v3
                        o6[i] += w60 * v0 + w61 * v1 + w62 * v2 + w63 * v3
                        o7[i] += w70 * v0 + w71 * v1 + w72 * v2 + w73 * v3
                r += 8
        while r + 4 <= rows:
            o0 = out[r, j0 : j0 + n]
            o0[:] = 0
            o1 = out[r + 1, j0 : j0 + n]
            o1[:] = 0
            o2 = out[r + 2, j0 : j0 + n]
            o2[:] = 0
            o3 = out[r + 3, j0 : j0 + n]
            o3[:] = 0
            for t in range(0, taps, 4):
                a = j0 + offsets[t]
                x0 = src[channels[t], a : a + n]
                a = j0 + offsets[t + 1]
                x1 = src[channels[t + 1], a : a + n]
                a = j0 + offsets[t + 2]
                x2 = src[channels[t + 2], a : a + n]
                a = j0 + offsets[t + 3]
                x3 = src[channels[t + 3], a : a + n]
                w00 = weights[r, t]
                w01 = weights[r, t + 1]
                w02 = weights[r, t + 2]
                w03 = weights[r, t + 3]
                w10 = weights[r + 1, t]
                w11 = weights[r + 1, t + 1]
                w12 = weights[r + 1, t + 2]
                w13 = weights[r + 1, t + 3]
                w20 = weights[r + 2, t]
                w21 = weights[r + 2, t + 1]
                w22 = weights[r + 2, t + 2]
                w23 = weights[r + 2, t + 3]
                w30 = weights[r + 3, t]
                w31 = weights[r + 3, t + 1]
                w32 = weights[r + 3, t + 2]
                w33 = weights[r + 3, t + 3]
                for i in range(n):
                    v0 = x0[i]
                    v1 = x1[i]
                    v2 = x2[i]
                    v3 = x3[i]
                    o0[i] += w00 * v0 + w01 * v1 + w02 * v2 + w03 * v3
                    o1[i] += w10 * v0 + w11 * v1 + w12 * v2 + w13 * v3
                    o2[i] += w20 * v0 + w21 * v1 + w22 * v2 + w23 * v3
                    o3[i] += w30 * v0 + w31 * v1 + w32 * v2 + w33 * v3
            r += 4
        while r < rows:  # the last one to three rows, one at a time
            o0 = out[r, j0 : j0 + n]
            o0[:] = 0
            for t in range(0, taps, 4):
                a = j0 + offsets[t]
                x0 = src[channels[t], a : a + n]
                a = j0 + offsets[t + 1]
                x1 = src[channels[t + 1], a : a + n]
                a = j0 + offsets[t + 2]
                x2 = src[channels[t + 2], a : a + n]
                a = j0 + offsets[t + 3]
                x3 = src[channels[t + 3], a : a + n]
                w00 = weights[r, t]
                w01 = weights[r, t + 1]
                w02 = weights[r, t + 2]
                w03 = weights[r, t + 3]
                for i in range(n):
                    o0[i] += w00 * x0[i] + w01 * x1[i] + w02 * x2[i] + w03 * x3[i]
            r += 1


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def correlate_weight_grad(dout, shift, src, channels, offsets, dweights, start, stop):
    """Add ``sum_j dout[r, j + shift] * src[channels[t], j + offsets[t]]`` to
    ``dweights[r, t]``, summing over the positions ``start <= j < stop``.

    The gradient of :func:`correlate_planes` with respect to ``weights``:
    every weight is shared by all positions, so its gradient is a sum over
    all of them, one dot product per row and tap. Shapes as in
    :func:`correlate_planes`, with ``dout`` ``(R, M + shift)`` and
    ``dweights`` ``(R, T)``, both ``R`` and ``T`` multiples of 4 (zero
    rows of ``dout`` as padding); ``dout`` must be zero at the positions the
    forward pass threw away. ``shift`` lets the caller reuse planes laid
    out for the input gradient, whose data start later.
    """
    rows, taps = dweights.shape
    for j0 in range(start, stop, GRAD_BLOCK):
        n = min(GRAD_BLOCK, stop - j0)
        for r in range(0, rows, 4):
            d0 = dout[r, j0 + shift : j0 + shift + n]
            d1 = dout[r + 1, j0 + shift : j0 + shift + n]
            d2 = dout[r + 2, j0 + shift : j0 + shift + n]
            d3 = dout[r + 3, j0 + shift : j0 + shift + n]
            for t in range(0, taps, 4):
                a = j0 + offsets[t]
                x0 = src[channels[t], a : a + n]
                a = j0 + offsets[t + 1]
                x1 = src[channels[t + 1], a : a + n]
                a = j0 + offsets[t + 2]
                x2 = src[channels[t + 2], a : a + n]
                a = j0 + offsets[t + 3]
                x3 = src[channels[t + 3], a : a + n]
                # Sixteen running sums, started from the array (its dtype).
                s00 = dweights[r, t]
                s01 = dweights[r, t + 1]
                s02 = dweights[r, t + 2]
                s03 = dweights[r, t + 3]
                s10 = dweights[r + 1, t]
                s11 = dweights[r + 1, t + 1]
                s12 = dweights[r + 1, t + 2]
                s13 = dweights[r + 1, t + 3]
                s20 = dweights[r + 2, t]
                s21 = dweights[r + 2, t + 1]
                s22 = dweights[r + 2, t + 2]
                s23 = dweights[r + 2, t + 3]
                s30 = dweights[r + 3, t]
                s31 = dweights[r + 3, t + 1]
                s32 = dweights[r + 3, t + 2]
                s33 = dweights[r + 3, t + 3]
                for i in range(n):
                    v0 = x0[i]
                    v1 = x1[i]
                    v2 = x2[i]
                    v3 = x3[i]
                    g = d0[i]
                    s00 += g * v0
                    s01 += g * v1
                    s02 += g * v2
                    s03 += g * v3
                    g = d1[i]
                    s10 += g * v0
                    s11 += g * v1
                    s12 += g * v2
                    s13 += g * v3
                    g = d2[i]
                    s20 += g * v0
                    s21 += g * v1
                    s22 += g * v2
                    s23 += g * v3
                    g = d3[i]
                    s30 += g * v0
                    s31 += g * v1
                    s32 += g * v2
                    s33 += g * v3
                dweights[r, t] = s00
                dweights[r, t + 1] = s01
                dweights[r, t + 2] = s02
                dweights[r, t + 3] = s03
                dweights[r + 1, t] = s10
                dweights[r + 1, t + 1] = s11
                dweights[r + 1, t + 2] = s12
                dweights[r + 1, t + 3] = s13
                dweights[r + 2, t] = s20
                dweights[r + 2, t + 1] = s21
                dweights[r + 2, t + 2] = s22
                dweights[r + 2, t + 3] = s23
                dweights[r + 3, t] = s30
                dweights[r + 3, t + 1] = s31
                dweights[r + 3, t + 2] = s32
                dweights[r + 3, t + 3] = s33


@njit(cache=True, nogil=True)
def images_to_planes(
    images, top, left, height, width, planes, lead, pitch, slot, start, stop
):
    """Write images ``start <= n < stop`` into the channel-major flat layout.

    ``images[n, c, top + h, left + w]`` for ``h < height``, ``w < width``
    goes to ``planes[c, lead + n * slot + h * pitch + w]``. Every other
    entry of those images' slots is set to zero (the padding), and so are
    the entries before the first slot (by the call with ``start == 0``)
    and after the last one (by the call with ``stop == N``): ``planes``
    may hold garbage on entry. Rows of ``planes`` beyond the images'
    channels become zero.
    """
    n_images, channels = images.shape[:2]
    for c in range(planes.shape[0]):
        plane = planes[c]
        if start == 0:
            plane[:lead] = 0
        if stop == n_images:
            plane[lead + n_images * slot :] = 0
        for n in range(start, stop):
            a = lead + n * slot
            plane[a : a + slot] = 0
            if c < channels:
                image = images[n, c]
                for h in range(height):
                    a = lead + n * slot + h * pitch
                    dst = plane[a : a + width]
                    src = image[top + h, left : left + width]
                    for w in range(width):
                        dst[w] = src[w]


@njit(cache=True, nogil=True)
def planes_to_images(planes, pitch, slot, step_h, step_w, bias, out, start, stop):
    """Inverse of :func:`images_to_planes` for outputs, plus a bias per row.

    ``out[n, r, i, j] = planes[r, n * slot + i * step_h * pitch + j * step_w]
    + bias[r]`` for images ``start <= n < stop``: the valid corner of every
    image, sampled with the stride.
    """
    _, rows, out_h, out_w = out.shape
    for n in range(start, stop):
        for r in range(rows):
            plane = planes[r]
            b = bias[r]
            for i in range(out_h):
                a = n * slot + i * step_h * pitch
                src = plane[a : a + (out_w - 1) * step_w + 1]
                dst = out[n, r, i]
                if step_w == 1:
                    for j in range(out_w):
                        dst[j] = src[j] + b
                else:
                    for j in range(out_w):
                        dst[j] = src[j * step_w] + b
