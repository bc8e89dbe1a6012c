"""Reference implementations dlcore is measured against (not used by dlcore).

* ``im2col_*``: the classic NumPy convolution (CS231n's ``conv_forward_fast``
  idea): copy every receptive field into a column, then one matrix product.
* ``numpy_*pool*``: pooling with ``sliding_window_view`` and NumPy reductions.
* ``naive_*``: loops straight from the definitions, as a student writes them
  first. They take seconds, so the benchmark runs them on a few examples
  and scales the time to the full batch (every one of them is linear in
  the batch size).

All take and return the same arrays as the matching ``dlcore.functional``
pair (forward -> ``(out, cache)``, backward -> gradients).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# ---------------------------------------------------------------- im2col


def im2col_conv2d_forward(x, W, b, stride=(1, 1), padding=(0, 0)):
    (sh, sw), (ph, pw) = stride, padding
    N, C, H, Wd = x.shape
    F, _, KH, KW = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    windows = sliding_window_view(xp, (KH, KW), axis=(2, 3))[:, :, ::sh, ::sw]
    OH, OW = windows.shape[2:4]
    # (C, KH, KW) down the columns, (N, OH, OW) across: one column per window.
    cols = windows.transpose(1, 4, 5, 0, 2, 3).reshape(C * KH * KW, N * OH * OW)
    out = (W.reshape(F, -1) @ cols).reshape(F, N, OH, OW).transpose(1, 0, 2, 3)
    out = out + b[None, :, None, None]
    return out, (cols, W, xp.shape, stride, padding, x.shape)


def im2col_conv2d_backward(dout, cache):
    cols, W, xp_shape, (sh, sw), (ph, pw), x_shape = cache
    F, C, KH, KW = W.shape
    N, _, OH, OW = dout.shape
    dout_mat = dout.transpose(1, 0, 2, 3).reshape(F, -1)
    db = dout.sum(axis=(0, 2, 3))
    dW = (dout_mat @ cols.T).reshape(W.shape)
    dcols = (W.reshape(F, -1).T @ dout_mat).reshape(C, KH, KW, N, OH, OW)
    dxp = np.zeros(xp_shape, dtype=dout.dtype)
    for kh in range(KH):  # col2im: add each kernel offset's slice back
        for kw in range(KW):
            dxp[:, :, kh : kh + sh * OH : sh, kw : kw + sw * OW : sw] += dcols[
                :, kh, kw
            ].transpose(1, 0, 2, 3)
    H, Wd = x_shape[2:]
    return dxp[:, :, ph : ph + H, pw : pw + Wd], dW, db


def _as_conv1d(conv2d_forward, conv2d_backward):
    """The 1-D pair of a 2-D convolution pair: a signal ``(N, C, L)`` is an
    image ``(N, C, 1, L)`` and a filter ``(F, C, K)`` one of height 1."""

    def conv1d_forward(x, W, b, stride=1, padding=0):
        out, cache = conv2d_forward(
            x[:, :, None, :], W[:, :, None, :], b, (1, stride), (0, padding)
        )
        return out[:, :, 0, :], cache

    def conv1d_backward(dout, cache):
        dx, dW, db = conv2d_backward(dout[:, :, None, :], cache)
        return dx[:, :, 0, :], dW[:, :, 0, :], db

    return conv1d_forward, conv1d_backward


im2col_conv1d_forward, im2col_conv1d_backward = _as_conv1d(
    im2col_conv2d_forward, im2col_conv2d_backward
)


# ------------------------------------------------------------ NumPy pools


def _windows(x, kernel, stride):
    (kh, kw), (sh, sw) = kernel, stride
    return sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]


def numpy_maxpool2d_forward(x, kernel=(2, 2), stride=(2, 2)):
    windows = _windows(x, kernel, stride)
    flat = windows.reshape(*windows.shape[:4], -1)
    index = flat.argmax(axis=-1)  # first maximum on ties
    out = np.take_along_axis(flat, index[..., None], axis=-1)[..., 0]
    return out, (index, x.shape, kernel, stride)


def numpy_maxpool2d_backward(dout, cache):
    index, x_shape, (kh, kw), (sh, sw) = cache
    OH, OW = dout.shape[2:]
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for a in range(kh):
        for b in range(kw):
            routed = np.where(index == a * kw + b, dout, 0)
            dx[:, :, a : a + sh * OH : sh, b : b + sw * OW : sw] += routed
    return dx


def numpy_avgpool2d_forward(x, kernel=(2, 2), stride=(2, 2)):
    out = _windows(x, kernel, stride).mean(axis=(-2, -1))
    return out, (x.shape, kernel, stride)


def numpy_avgpool2d_backward(dout, cache):
    x_shape, (kh, kw), (sh, sw) = cache
    OH, OW = dout.shape[2:]
    dx = np.zeros(x_shape, dtype=dout.dtype)
    share = dout / (kh * kw)
    for a in range(kh):
        for b in range(kw):
            dx[:, :, a : a + sh * OH : sh, b : b + sw * OW : sw] += share
    return dx


# ------------------------------------------------------------ naive loops


def naive_conv2d_forward(x, W, b, stride=(1, 1), padding=(0, 0)):
    (sh, sw), (ph, pw) = stride, padding
    N, C, H, Wd = x.shape
    F, _, KH, KW = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    OH = (H + 2 * ph - KH) // sh + 1
    OW = (Wd + 2 * pw - KW) // sw + 1
    out = np.zeros((N, F, OH, OW), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for i in range(OH):
                for j in range(OW):
                    total = b[f]
                    for c in range(C):
                        for kh in range(KH):
                            for kw in range(KW):
                                total += (
                                    W[f, c, kh, kw] * xp[n, c, i * sh + kh, j * sw + kw]
                                )
                    out[n, f, i, j] = total
    return out, (xp, W, stride, padding, x.shape)


def naive_conv2d_backward(dout, cache):
    xp, W, (sh, sw), (ph, pw), x_shape = cache
    N, F, OH, OW = dout.shape
    _, C, KH, KW = W.shape
    dxp = np.zeros_like(xp)
    dW = np.zeros_like(W)
    db = np.zeros(F, dtype=dout.dtype)
    for n in range(N):
        for f in range(F):
            for i in range(OH):
                for j in range(OW):
                    g = dout[n, f, i, j]
                    db[f] += g
                    for c in range(C):
                        for kh in range(KH):
                            for kw in range(KW):
                                h, w = i * sh + kh, j * sw + kw
                                dW[f, c, kh, kw] += g * xp[n, c, h, w]
                                dxp[n, c, h, w] += g * W[f, c, kh, kw]
    H, Wd = x_shape[2:]
    return dxp[:, :, ph : ph + H, pw : pw + Wd], dW, db


naive_conv1d_forward, naive_conv1d_backward = _as_conv1d(
    naive_conv2d_forward, naive_conv2d_backward
)


def naive_pool2d_forward(x, kernel=(2, 2), stride=(2, 2), kind="max"):
    (kh, kw), (sh, sw) = kernel, stride
    N, C, H, W = x.shape
    OH, OW = (H - kh) // sh + 1, (W - kw) // sw + 1
    out = np.zeros((N, C, OH, OW), dtype=x.dtype)
    where = np.zeros((N, C, OH, OW, 2), dtype=np.intp)
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    best, total, at = -np.inf, 0.0, (0, 0)
                    for a in range(kh):
                        for b in range(kw):
                            v = x[n, c, i * sh + a, j * sw + b]
                            total += v
                            if v > best:
                                best, at = v, (i * sh + a, j * sw + b)
                    out[n, c, i, j] = best if kind == "max" else total / (kh * kw)
                    where[n, c, i, j] = at
    return out, (where, x.shape, kernel, stride, kind)


def naive_pool2d_backward(dout, cache):
    where, x_shape, (kh, kw), (sh, sw), kind = cache
    N, C, OH, OW = dout.shape
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    if kind == "max":
                        h, w = where[n, c, i, j]
                        dx[n, c, h, w] += dout[n, c, i, j]
                    else:
                        for a in range(kh):
                            for b in range(kw):
                                dx[n, c, i * sh + a, j * sw + b] += dout[n, c, i, j] / (
                                    kh * kw
                                )
    return dx


def naive_batchnorm_forward(x, gamma, beta, eps=1e-5):
    """Per channel of (N, C, H, W), loops over every value."""
    N, C, H, W = x.shape
    m = N * H * W
    out = np.empty_like(x)
    xhat = np.empty_like(x)
    inv_std = np.empty(C)
    for c in range(C):
        total = 0.0
        for n in range(N):
            for h in range(H):
                for w in range(W):
                    total += x[n, c, h, w]
        mean = total / m
        sq = 0.0
        for n in range(N):
            for h in range(H):
                for w in range(W):
                    sq += (x[n, c, h, w] - mean) ** 2
        inv_std[c] = 1.0 / np.sqrt(sq / m + eps)
        for n in range(N):
            for h in range(H):
                for w in range(W):
                    xhat[n, c, h, w] = (x[n, c, h, w] - mean) * inv_std[c]
                    out[n, c, h, w] = gamma[c] * xhat[n, c, h, w] + beta[c]
    return out, (xhat, gamma, inv_std)


def naive_batchnorm_backward(dout, cache):
    xhat, gamma, inv_std = cache
    N, C, H, W = dout.shape
    m = N * H * W
    dx = np.empty_like(dout)
    dgamma = np.zeros(C)
    dbeta = np.zeros(C)
    for c in range(C):
        for n in range(N):
            for h in range(H):
                for w in range(W):
                    dgamma[c] += dout[n, c, h, w] * xhat[n, c, h, w]
                    dbeta[c] += dout[n, c, h, w]
        for n in range(N):
            for h in range(H):
                for w in range(W):
                    dx[n, c, h, w] = (
                        gamma[c]
                        * inv_std[c]
                        / m
                        * (
                            m * dout[n, c, h, w]
                            - dbeta[c]
                            - xhat[n, c, h, w] * dgamma[c]
                        )
                    )
    return dx, dgamma, dbeta


def naive_mlp_step(params, x, y, lr=1e-3):
    """One SGD step of a ReLU MLP with softmax cross-entropy, all in loops."""
    Ws, bs = params
    N = x.shape[0]
    acts = [x]
    for k, (W, b) in enumerate(zip(Ws, bs, strict=True)):
        a = acts[-1]
        z = np.zeros((N, W.shape[0]))
        for n in range(N):
            for o in range(W.shape[0]):
                total = b[o]
                for i in range(W.shape[1]):
                    total += W[o, i] * a[n, i]
                z[n, o] = total if k == len(Ws) - 1 or total > 0 else 0.0
        acts.append(z)
    scores = acts[-1]
    delta = np.zeros_like(scores)
    for n in range(N):
        top = max(scores[n])
        exps = [np.exp(s - top) for s in scores[n]]
        total = sum(exps)
        for o in range(scores.shape[1]):
            delta[n, o] = (exps[o] / total - (o == y[n])) / N
    for k in range(len(Ws) - 1, -1, -1):
        W, b, a = Ws[k], bs[k], acts[k]
        previous = np.zeros_like(a)
        dW = np.zeros_like(W)
        for n in range(N):
            for o in range(W.shape[0]):
                g = delta[n, o]
                for i in range(W.shape[1]):
                    previous[n, i] += W[o, i] * g
                    dW[o, i] += g * a[n, i]
        for o in range(W.shape[0]):
            b[o] -= lr * delta[:, o].sum()
            for i in range(W.shape[1]):
                W[o, i] -= lr * dW[o, i]
        if k > 0:
            delta = previous * (a > 0)
