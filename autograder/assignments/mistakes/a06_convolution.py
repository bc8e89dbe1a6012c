"""Known wrong answers of assignment 06_convolution (solutions/06_convolution/).

Each check of ``autograder/assignments/a06_convolution.py`` that declares
misconceptions finds them in ``MISCONCEPTIONS`` under its name: the wrong
answer, written as a student would write it, and the message that names the
mistake without giving the answer (``autograder/AUTHORING.md`` § 1b).
"""

from __future__ import annotations

import numpy as np

from autograder.declarations import Misconception


def _size_rule(rounding=np.floor, padding_sides=2, checks=True):
    def conv_output_size(n, kernel_size, stride=1, padding=0):
        if checks and (min(n, kernel_size, stride) < 1 or padding < 0):
            raise ValueError("impossible setting")
        if checks and kernel_size > n + 2 * padding:
            raise ValueError("no window fits")
        span = n + padding_sides * padding - kernel_size
        return int(rounding(span / stride)) + 1 if stride else 0

    return conv_output_size


def _conv_windows(x, W, stride, padding):
    """Padded input, output spatial sizes and the window slices of each output."""
    spatial = x.ndim - 2
    pad = ((0, 0), (0, 0)) + ((padding, padding),) * spatial
    x_pad = np.pad(x, pad)
    kernel = W.shape[2:]
    sizes = [
        (n - k) // stride + 1 for n, k in zip(x_pad.shape[2:], kernel, strict=True)
    ]
    positions = np.ndindex(*sizes)
    return (
        x_pad,
        sizes,
        [
            (
                at,
                tuple(
                    slice(i * stride, i * stride + k)
                    for i, k in zip(at, kernel, strict=True)
                ),
            )
            for at in positions
        ],
    )


def _conv(flip=False, swap_axes=False, use_padding=True, use_stride=True, bias=True):
    def conv_forward(x, W, b, stride=1, padding=0):
        kernel = W[..., ::-1] if flip and W.ndim == 3 else W
        if flip and W.ndim == 4:
            kernel = W[..., ::-1, ::-1]
        if swap_axes:
            kernel = np.swapaxes(W, 2, 3)
        step = stride if use_stride else 1
        x_pad, sizes, windows = _conv_windows(x, W, step, padding if use_padding else 0)
        out = np.empty((x.shape[0], W.shape[0], *sizes))
        axes = list(range(1, W.ndim))
        for at, window in windows:
            value = np.tensordot(
                x_pad[(slice(None), slice(None), *window)], kernel, (axes, axes)
            )
            out[(slice(None), slice(None), *at)] = value + (b if bias else 0.0)
        return out, (x, W, b, stride, padding)

    return conv_forward


def _conv_backward(average_dW=False, overwrite_dx=False, average_db=False):
    def conv_backward(dout, cache):
        x, W, b, stride, padding = cache
        x_pad, _, windows = _conv_windows(x, W, stride, padding)
        dx_pad, dW = np.zeros_like(x_pad), np.zeros_like(W)
        spatial_axes = tuple(range(2, dout.ndim))
        for at, window in windows:
            g = dout[(slice(None), slice(None), *at)]
            region = (slice(None), slice(None), *window)
            dW += np.tensordot(g, x_pad[region], axes=([0], [0]))
            share = np.tensordot(g, W, axes=([1], [0]))
            if overwrite_dx:
                dx_pad[region] = share
            else:
                dx_pad[region] += share
        uses = dout.shape[0] * int(np.prod(dout.shape[2:]))
        crop = tuple(slice(padding, padding + n) for n in x.shape[2:])
        dx = dx_pad[(slice(None), slice(None), *crop)]
        db = dout.sum(axis=(0, *spatial_axes))
        return dx, dW / uses if average_dW else dW, db / uses if average_db else db

    return conv_backward


def _input_grad_not_flipped(g, w):
    return np.correlate(np.pad(g, len(w) - 1), w, mode="valid")


def _weight_grad_flipped(g, x, F):
    return np.convolve(x, g, mode="valid")


def _window_grad(ties="first"):
    def maxpool_window_grad(window):
        if ties == "all":
            return (window == window.max()).astype(float)
        grad = np.zeros_like(window)
        last = window.size - 1 - np.argmax(window.ravel()[::-1])
        grad.flat[last] = 1.0
        return grad

    return maxpool_window_grad


def _pool(reduce=np.max, default_stride="kernel"):
    def maxpool2d_forward(x, kernel_size, stride=None):
        if stride is None:
            stride = kernel_size if default_stride == "kernel" else 1
        k = kernel_size
        H_out = (x.shape[2] - k) // stride + 1
        W_out = (x.shape[3] - k) // stride + 1
        out = np.empty((*x.shape[:2], H_out, W_out))
        for i in range(H_out):
            for j in range(W_out):
                window = x[
                    :, :, i * stride : i * stride + k, j * stride : j * stride + k
                ]
                out[:, :, i, j] = reduce(window, axis=(2, 3))
        return out, (x, kernel_size, stride)

    return maxpool2d_forward


def _pool_backward(route="first", accumulate=True):
    def maxpool2d_backward(dout, cache):
        x, k, stride = cache
        dx = np.zeros_like(x)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                rows = slice(i * stride, i * stride + k)
                cols = slice(j * stride, j * stride + k)
                window = x[:, :, rows, cols]
                g = dout[:, :, i, j][:, :, None, None]
                if route == "all":
                    top = window.max(axis=(2, 3), keepdims=True)
                    share = g * (window == top)
                else:
                    flat = window.reshape(*window.shape[:2], k * k)
                    share = np.zeros_like(flat)
                    np.put_along_axis(
                        share, flat.argmax(axis=2)[..., None], 1.0, axis=2
                    )
                    share = g * share.reshape(window.shape)
                if accumulate:
                    dx[:, :, rows, cols] += share
                else:
                    dx[:, :, rows, cols] = np.where(
                        share != 0, share, dx[:, :, rows, cols]
                    )
        return dx

    return maxpool2d_backward


_FLIPPED = (
    "your output is a convolution with the kernel flipped; the layer computes "
    "a cross-correlation: the kernel slides over the input as it is."
)
_DW_AVERAGED = (
    "your dW is too small by the number of places the kernel was used: did "
    "you average? A shared weight's gradient is the sum over every use."
)
_DX_OVERWRITTEN = (
    "your dx keeps only one window's share where windows overlap: an input "
    "used by several windows collects all their contributions."
)


# ------------------------------------------------------------ per check

MISCONCEPTIONS = {
    "conv_output_size": (
        Misconception(
            "rounded_not_floored",
            "you round the number of strides; a last window that does not fit "
            "whole is not visited, so it is rounded down.",
            answer=(_size_rule(rounding=np.round)),
        ),
        Misconception(
            "padding_on_one_side",
            "your size adds the padding once; it is added at both ends.",
            answer=(_size_rule(padding_sides=1)),
        ),
        Misconception(
            "impossible_settings_accepted",
            "your function returns a size for settings where no window fits or "
            "the arguments make no sense; it raises ValueError there.",
            answer=(_size_rule(checks=False)),
        ),
    ),
    "q_output_size": (
        Misconception(
            "rounded_up",
            "your count includes a last window that does not fit whole.",
            variant=lambda: 16,
        ),
    ),
    "conv1d_forward": (
        Misconception("kernel_flipped", _FLIPPED, answer=_conv(flip=True)),
        Misconception(
            "padding_ignored",
            "your output has the size of the unpadded input: the padding is "
            "not applied.",
            answer=_conv(use_padding=False),
        ),
        Misconception(
            "stride_ignored",
            "your windows are one step apart whatever the stride.",
            answer=_conv(use_stride=False),
        ),
        Misconception(
            "bias_missing",
            "your outputs leave out the filters' biases.",
            answer=_conv(bias=False),
        ),
    ),
    "conv1d_input_grad": (
        Misconception(
            "kernel_not_flipped",
            "your taps meet g in the forward order; going backward they meet it "
            "in the reverse order (a full correlation with the flipped kernel).",
            answer=_input_grad_not_flipped,
        ),
    ),
    "conv1d_weight_grad": (
        Misconception(
            "flipped",
            "your weight gradient is in the reverse tap order: you convolved "
            "where the forward pass correlated.",
            answer=_weight_grad_flipped,
        ),
    ),
    "conv1d_backward": (
        Misconception("dW_averaged", _DW_AVERAGED, answer=_conv_backward(True)),
        Misconception(
            "dx_overwritten",
            _DX_OVERWRITTEN,
            answer=_conv_backward(overwrite_dx=True),
        ),
        Misconception(
            "db_averaged",
            "your db is an average; the bias was used at every output of its "
            "filter, so its gradient is the sum.",
            answer=_conv_backward(average_db=True),
        ),
    ),
    "conv2d_forward": (
        Misconception("kernel_flipped", _FLIPPED, answer=_conv(flip=True)),
        Misconception(
            "kernel_axes_swapped",
            "your kernel's two spatial axes are swapped: W[f, c, u, v] meets "
            "the input u rows down and v columns across.",
            answer=_conv(swap_axes=True),
        ),
        Misconception(
            "padding_ignored",
            "your output has the size of the unpadded input: the padding is "
            "not applied.",
            answer=_conv(use_padding=False),
        ),
        Misconception(
            "bias_missing",
            "your outputs leave out the filters' biases.",
            answer=_conv(bias=False),
        ),
    ),
    "conv2d_backward": (
        Misconception("dW_averaged", _DW_AVERAGED, answer=_conv_backward(True)),
        Misconception(
            "dx_overwritten",
            _DX_OVERWRITTEN,
            answer=_conv_backward(overwrite_dx=True),
        ),
        Misconception(
            "db_averaged",
            "your db is an average; the bias was used at every output of its "
            "filter, so its gradient is the sum.",
            answer=_conv_backward(average_db=True),
        ),
    ),
    "maxpool_window_grad": (
        Misconception(
            "every_tied_maximum",
            "on a tie your gradient goes to every maximum; the convention "
            "routes it to the first one only (row-major), so the gradient "
            "still sums to 1.",
            answer=_window_grad(ties="all"),
        ),
        Misconception(
            "last_tied_maximum",
            "on a tie your gradient goes to the last maximum; the convention "
            "is the first one in row-major order.",
            answer=_window_grad(ties="last"),
        ),
    ),
    "q_pool_overlap": (
        Misconception(
            "overlap_not_added",
            "an input that is the maximum of two windows receives both "
            "windows' gradients.",
            variant=lambda: [0, 1, 0, 1, 0],
        ),
    ),
    "maxpool2d_forward": (
        Misconception(
            "default_stride_one",
            "with stride=None your windows move one step at a time; by "
            "default they tile the input (stride = kernel_size).",
            answer=_pool(default_stride="one"),
        ),
        Misconception(
            "average_pooling",
            "your windows are averaged; max-pooling keeps each window's largest entry.",
            answer=_pool(reduce=np.mean),
        ),
    ),
    "maxpool2d_backward": (
        Misconception(
            "every_tied_maximum",
            "on ties your gradient goes to every maximum of the window; the "
            "convention routes it to the first one (row-major) only.",
            answer=_pool_backward(route="all"),
        ),
        Misconception(
            "overlap_overwritten",
            "where windows overlap an input keeps one window's gradient; it "
            "collects the gradient of every window whose maximum it is.",
            answer=_pool_backward(accumulate=False),
        ),
    ),
}
