"""The affine (fully connected, "dense") layer: ``out = x @ W.T + b``.

Lecture notation, one example at a time: the scores of a layer are

.. math::

    \\mathbf{s} = W \\mathbf{x} + \\mathbf{b}, \\qquad
    W \\in \\mathbb{R}^{m \\times d},\\ \\mathbf{b} \\in \\mathbb{R}^{m}.

The library is batch first: ``x`` holds one example per *row*, so the whole
batch is computed at once as ``x @ W.T + b`` (row ``i`` of the result is
``s_i^T``). This is also PyTorch's layout (``torch.nn.functional.linear``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import (
    as_float_array,
    check_cache,
    check_dim,
    check_ndim,
    check_shape,
    check_upstream,
)

__all__ = ["LinearCache", "linear_forward", "linear_backward"]


@dataclass(frozen=True, eq=False)
class LinearCache:
    """What :func:`linear_forward` keeps for :func:`linear_backward`.

    Attributes
    ----------
    x : ndarray, shape (N, D_in)
        The input (``dW`` is built from it).
    W : ndarray, shape (D_out, D_in)
        The weights, in the dtype of ``x`` (``dx`` is built from them).
    """

    x: np.ndarray
    W: np.ndarray


def linear_forward(x, W, b):
    """Forward pass of an affine layer, ``out = x @ W.T + b``.

    Parameters
    ----------
    x : ndarray, shape (N, D_in)
        A batch of N examples, one per row.
    W : ndarray, shape (D_out, D_in)
        Weights; row ``j`` holds the input weights of output unit ``j``
        (the lectures' :math:`W`, acting on a column vector :math:`\\mathbf{x}`).
    b : ndarray, shape (D_out,)
        Biases.

    Returns
    -------
    out : ndarray, shape (N, D_out)
        The scores :math:`\\mathbf{s}_i^T = (W\\mathbf{x}_i + \\mathbf{b})^T`,
        one row per example, in ``x``'s dtype (float32 input stays float32
        even with float64 parameters).
    cache : LinearCache
        ``x`` and ``W`` (in the dtype of ``x``), what
        :func:`linear_backward` needs.
    """
    x = as_float_array(x, "x")
    W = as_float_array(W, "W")
    b = as_float_array(b, "b")
    check_ndim(x, "x", 2, "(N, D_in)")
    check_ndim(W, "W", 2, "(D_out, D_in)")
    check_dim(W.shape[1], x.shape[1], "W.shape[1] (D_in) must equal x.shape[1]")
    check_shape(b, "b", (W.shape[0],), "one bias per output unit, D_out = W.shape[0]")

    # Compute in x's dtype, so float32 data stays float32 with any parameters.
    W = W.astype(x.dtype, copy=False)
    out = x @ W.T + b.astype(x.dtype, copy=False)
    return out, LinearCache(x, W)


def linear_backward(dout, cache):
    """Backward pass of an affine layer.

    Derivation (lecture 004). For one example, with the upstream gradient
    written as a row vector :math:`\\mathbf{g} = \\partial J / \\partial
    \\mathbf{s}` (shape :math:`1 \\times m`), the local Jacobians of
    :math:`\\mathbf{s} = W\\mathbf{x} + \\mathbf{b}` are

    .. math::

        \\frac{\\partial \\mathbf{s}}{\\partial \\mathbf{b}} = I_m, \\qquad
        \\frac{\\partial \\mathbf{s}}{\\partial \\mathbf{x}} = W, \\qquad
        \\frac{\\partial \\mathbf{s}}{\\partial\\, \\mathrm{vec}(W)} =
        I_m \\otimes \\mathbf{x}^T,

    so that

    .. math::

        \\frac{\\partial J}{\\partial \\mathbf{b}} = \\mathbf{g}, \\qquad
        \\frac{\\partial J}{\\partial \\mathbf{x}} = \\mathbf{g} W, \\qquad
        \\frac{\\partial J}{\\partial W} = \\mathbf{g}^T \\mathbf{x}^T
        \\ (\\text{an outer product}, m \\times d).

    For a batch the parameters are shared by all examples, so their
    gradients are aggregated (summed) over the batch. Stacking the rows
    :math:`\\mathbf{g}_i` into ``dout`` (N, D_out) and the rows
    :math:`\\mathbf{x}_i^T` into ``x`` (N, D_in):

    .. math::

        dW = \\sum_i \\mathbf{g}_i^T \\mathbf{x}_i^T = \\texttt{dout}^T
        \\texttt{x}, \\qquad
        db = \\sum_i \\mathbf{g}_i, \\qquad
        dx = \\texttt{dout}\\, W \\ (\\text{row } i \\text{ is }
        \\mathbf{g}_i W).

    The lecture divides by the batch size afterwards; here that ``1/N``
    already sits in ``dout`` (the losses average over the batch), so the
    sum is exactly the gradient of the loss.

    Parameters
    ----------
    dout : ndarray, shape (N, D_out)
        Upstream gradient :math:`\\partial J / \\partial\\, \\texttt{out}`.
    cache : LinearCache
        From :func:`linear_forward`.

    Returns
    -------
    dx : ndarray, shape (N, D_in)
    dW : ndarray, shape (D_out, D_in)
    db : ndarray, shape (D_out,)
    """
    cache = check_cache(cache, LinearCache, "linear_forward")
    x, W = cache.x, cache.W
    dout = check_upstream(dout, (x.shape[0], W.shape[0]), "linear_forward")

    dx = dout @ W  # row i is g_i W
    dW = dout.T @ x  # sum over the batch of the outer products g_i^T x_i^T
    db = dout.sum(axis=0)  # sum over the batch of g_i
    return dx, dW, db
