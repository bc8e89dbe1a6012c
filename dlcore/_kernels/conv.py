"""The loops of every convolution: a weighted sum of shifted planes, its
weight gradient, and the copies into and out of the layout they work on.

Layout (set up and explained in full by :mod:`dlcore._kernels.conv_batch`). The
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

import numpy as np
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


# --------------------------------------------------------------------------
# Stride 1, a few images at a time.
#
# Converting the whole batch into the flat layout and back means four
# copies of it through main memory, a fresh array for the input's planes
# (kept for the backward pass) and a wake-up of the threads for each of
# seven steps; and at 8x8 pixels the gap columns and rows waste 17 of every
# 81 positions. For stride-1 convolutions whose output keeps the input's
# width (padding ``(KW - 1) / 2`` left and right, as 'same' does) the
# kernels below instead
#
# * take the batch in groups of a few images whose planes (several hundred
#   positions, chosen by the caller) stay in the L1/L2 caches: copy the
#   group in, correlate it, copy the results out, next group. Each pass is
#   one call per thread, and the backward pass rebuilds the input's planes
#   from ``x`` itself;
# * store no gap columns (rows are ``pitch = W`` apart): each channel gets
#   ``KW`` planes instead, plane ``kw`` holding the images shifted by
#   ``kw - left`` columns, with zeros where that leaves the image. Tap
#   ``(c, kh, kw)`` then reads plane ``(kw, c)`` at offset ``kh * W``, and
#   only the zero rows between images are computed in vain (8 of 72
#   positions at 8x8).
# --------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def group_to_shifted_planes(
    images, first, count, planes, block, left, lead, slot, width
):
    """Images ``first <= n < first + count`` into shifted planes, from position 0.

    ``images`` is ``(N, C, H * width)`` (each channel flattened). For every
    column shift ``kw`` (``planes.shape[0] // block`` of them) and channel
    ``c``, row ``kw * block + c`` of ``planes`` gets image ``k``'s pixel
    ``(h, w + kw - left)`` at position ``lead + k * slot + h * width + w``,
    or zero where that column lies outside the image. Every other entry
    (the zero rows between images, rows beyond the channels) is zero.
    """
    channels, size = images.shape[1:]
    end = lead + count * slot
    # Zero everything first (one long fill, in the cache), then copy.
    planes[:] = 0
    for kw in range(planes.shape[0] // block):
        shift = kw - left
        # Pixels p0 <= p < p1 of the flattened image have a source pixel.
        p0 = max(0, -shift)
        p1 = size - max(0, shift)
        for c in range(channels):
            plane = planes[kw * block + c]
            for k in range(count):
                a = lead + k * slot
                dst = plane[a + p0 : a + p1]
                src = images[first + k, c, p0 + shift : p1 + shift]
                for p in range(p1 - p0):
                    dst[p] = src[p]
            # The flat copies wrapped around the row ends: the first -shift
            # or the last shift columns of every row lie outside the image.
            for w in range(max(0, -shift)):
                for q in range(lead + w, end, width):
                    plane[q] = 0
            for w in range(width - max(0, shift), width):
                for q in range(lead + w, end, width):
                    plane[q] = 0


@njit(cache=True, nogil=True)
def planes_to_group(planes, slot, bias, out, first, count):
    """``out[first + k, r, p] = planes[r, k * slot + p] + bias[r]``.

    ``out`` is ``(N, R, H' * W)``: with rows ``W`` apart, the outputs of an
    image are contiguous in its slot.
    """
    rows, size = out.shape[1:]
    for k in range(count):
        for r in range(rows):
            src = planes[r, k * slot : k * slot + size]
            dst = out[first + k, r]
            b = bias[r]
            for p in range(size):
                dst[p] = src[p] + b


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def grouped_forward(
    images, weights, channels, offsets, bias, out, planes, acc, left, lead,
    slot, width, group, rows_per_pass, start, stop,
):  # fmt: skip
    """Stride-1 correlation plus bias of images ``start <= n < stop``, by groups.

    ``images`` ``(N, C, H * W)``, ``out`` ``(N, F, H' * W)``; ``weights``,
    ``channels`` and ``offsets`` as for :func:`correlate_planes`, the
    channels counting the planes of :func:`group_to_shifted_planes` (block
    ``C``); ``left``, ``lead``, ``slot`` and ``width`` that layout.
    ``planes`` ``(KW * C, length)`` and ``acc`` ``(F, group * slot)`` are
    scratch buffers.
    """
    # A typed 0: passing the literal 0 to another kernel would compile it
    # once more, specialized for the constant.
    zero = np.intp(0)
    block = images.shape[1]
    for first in range(start, stop, group):
        count = min(group, stop - first)
        group_to_shifted_planes(
            images, first, count, planes, block, left, lead, slot, width
        )
        correlate_planes(
            planes, weights, channels, offsets, acc, rows_per_pass, zero, count * slot
        )
        planes_to_group(acc, slot, bias, out, first, count)


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def grouped_backward(
    images, dout, weights_t, d_channels, d_offsets, channels, offsets, no_bias,
    dx, dweights, x_planes, d_planes, acc, left, lead, d_lead, slot, width,
    group, rows_per_pass, start, stop,
):  # fmt: skip
    """Gradients of :func:`grouped_forward` for images ``start <= n < stop``.

    * ``dx`` ``(N, C, H * W)``: the full correlation of ``dout`` ``(N, F,
      H' * W)`` with the flipped kernel ``weights_t``, through shifted
      planes of ``dout`` (block ``R = dweights.shape[0]``, ``F`` rounded up
      to a multiple of 4; ``d_lead`` the zero rows above, ``K - 1 - P``);
    * ``dweights`` ``(R, T)`` is added the sums of :func:`correlate_weight_grad`
      over these images: ``dout``'s unshifted planes (``kw == left``) read
      ``d_lead`` positions on, where the forward pass wrote its outputs,
      against the input's planes rebuilt as in :func:`grouped_forward`.
    """
    zero = np.intp(0)
    block = dweights.shape[0]
    for first in range(start, stop, group):
        count = min(group, stop - first)
        positions = count * slot
        group_to_shifted_planes(
            dout, first, count, d_planes, block, left, d_lead, slot, width
        )
        correlate_planes(
            d_planes, weights_t, d_channels, d_offsets, acc, rows_per_pass, zero,
            positions,
        )  # fmt: skip
        planes_to_group(acc, slot, no_bias, dx, first, count)
        group_to_shifted_planes(
            images, first, count, x_planes, images.shape[1], left, lead, slot, width
        )
        unshifted = d_planes[left * block : (left + 1) * block]
        correlate_weight_grad(
            unshifted, d_lead, x_planes, channels, offsets, dweights, zero, positions
        )
