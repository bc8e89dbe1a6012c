"""Element-wise activation functions, and the softmax.

One pattern serves every pair, so the docstrings below keep to the math:

* ``*_forward(x, ...)`` accepts an array of any shape and returns
  ``(out, cache)``, ``out`` of the shape and dtype of ``x`` and ``cache`` the
  frozen record defined just above the function (its docstring says what it
  keeps);
* ``*_backward(dout, cache)`` takes the upstream gradient, of ``out``'s
  shape, and returns ``dx = dout * f'(x)``, of the same shape (the softmax's
  is the one that is not a product, see below).

Why element-wise backward passes are so cheap (lecture 003): for
:math:`\\mathbf{y} = f(\\mathbf{x})` applied entry by entry, the Jacobian
:math:`\\partial \\mathbf{y} / \\partial \\mathbf{x} =
\\mathrm{diag}(f'(\\mathbf{x}))` is diagonal, so the chain rule
:math:`\\mathbf{g} \\leftarrow \\mathbf{g}\\, \\mathrm{diag}(f'(\\mathbf{x}))`
is just an element-wise product. The softmax is the exception: every output
depends on every input of its row, see :func:`softmax_backward`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import as_float_array, check_cache, check_upstream, non_negative

__all__ = [
    "ReluCache",
    "SigmoidCache",
    "TanhCache",
    "LeakyReluCache",
    "EluCache",
    "SignCache",
    "SoftmaxCache",
    "relu_forward",
    "relu_backward",
    "sigmoid_forward",
    "sigmoid_backward",
    "tanh_forward",
    "tanh_backward",
    "leaky_relu_forward",
    "leaky_relu_backward",
    "elu_forward",
    "elu_backward",
    "sign_forward",
    "sign_backward",
    "softmax_forward",
    "softmax_backward",
]


# --------------------------------------------------------------------- ReLU


@dataclass(frozen=True, eq=False)
class ReluCache:
    """What :func:`relu_forward` keeps: ``positive``, the mask ``x > 0``."""

    positive: np.ndarray


def relu_forward(x):
    """ReLU, :math:`\\max(0, x)`; the cache keeps the mask ``x > 0``."""
    x = as_float_array(x, "x")
    positive = x > 0
    out = np.where(positive, x, 0).astype(x.dtype, copy=False)
    return out, ReluCache(positive)


def relu_backward(dout, cache):
    """Backward pass of ReLU: :math:`\\mathrm{relu}'(x) = \\mathrm{Ind}(x > 0)`.

    At :math:`x = 0` the derivative does not exist; the sub-gradient 0 is
    used (as the lectures' ``Ind(s > 0)`` and PyTorch do).
    """
    positive = check_cache(cache, ReluCache, "relu_forward").positive
    dout = check_upstream(dout, positive.shape, "relu_forward")
    return np.where(positive, dout, 0).astype(dout.dtype, copy=False)


# ------------------------------------------------------------------ sigmoid


@dataclass(frozen=True, eq=False)
class SigmoidCache:
    """What :func:`sigmoid_forward` keeps: its output ``out``."""

    out: np.ndarray


def sigmoid_forward(x):
    """Logistic sigmoid, :math:`\\sigma(x) = 1 / (1 + e^{-x})`, in (0, 1).

    Computed without overflow for large :math:`|x|`: with
    :math:`e = e^{-|x|} \\in (0, 1]`,

    .. math::

        \\sigma(x) = \\frac{1}{1 + e} \\ (x \\ge 0), \\qquad
        \\sigma(x) = \\frac{e}{1 + e} \\ (x < 0),

    so ``exp`` never sees a large positive argument (a naive
    ``1 / (1 + exp(-x))`` overflows, with a warning, for ``x < -709``).

    The cache keeps ``out`` itself, since :math:`\\sigma' = \\sigma(1 - \\sigma)`.
    """
    x = as_float_array(x, "x")
    e = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return out, SigmoidCache(out)


def sigmoid_backward(dout, cache):
    """Backward pass of the sigmoid: :math:`\\sigma'(x) = \\sigma(x)(1 - \\sigma(x))`.

    The derivative is at most 1/4 (at 0) and vanishes for large :math:`|x|`:
    saturated sigmoid units pass almost no gradient back.
    """
    out = check_cache(cache, SigmoidCache, "sigmoid_forward").out
    dout = check_upstream(dout, out.shape, "sigmoid_forward")
    return dout * out * (1 - out)


# --------------------------------------------------------------------- tanh


@dataclass(frozen=True, eq=False)
class TanhCache:
    """What :func:`tanh_forward` keeps: its output ``out``."""

    out: np.ndarray


def tanh_forward(x):
    """Hyperbolic tangent, :math:`(e^x - e^{-x}) / (e^x + e^{-x})`, in (-1, 1).

    The cache keeps ``out`` itself, since :math:`\\tanh' = 1 - \\tanh^2`.
    """
    x = as_float_array(x, "x")
    out = np.tanh(x)
    return out, TanhCache(out)


def tanh_backward(dout, cache):
    """Backward pass of tanh: :math:`\\tanh'(x) = 1 - \\tanh^2(x) \\in (0, 1]`."""
    out = check_cache(cache, TanhCache, "tanh_forward").out
    dout = check_upstream(dout, out.shape, "tanh_forward")
    return dout * (1 - out * out)


# --------------------------------------------------------------- leaky ReLU


@dataclass(frozen=True, eq=False)
class LeakyReluCache:
    """What :func:`leaky_relu_forward` keeps: the mask ``x > 0`` and ``alpha``."""

    positive: np.ndarray
    alpha: float


def leaky_relu_forward(x, alpha=0.01):
    """Leaky ReLU, :math:`\\max(0, x) + \\min(0, \\alpha x)`.

    The lectures write the slope as :math:`s`, :math:`0 < s < 1`; Keras and
    PyTorch call it ``alpha`` / ``negative_slope``. Unlike the ReLU, a
    negative input still passes a (small) gradient, so units cannot "die".

    Parameters
    ----------
    alpha : float, default 0.01
        Slope for negative inputs, ``>= 0`` (0 gives the ReLU); kept in the
        cache with the mask ``x > 0``.
    """
    x = as_float_array(x, "x")
    alpha = non_negative(alpha, "alpha")
    positive = x > 0
    out = np.where(positive, x, alpha * x).astype(x.dtype, copy=False)
    return out, LeakyReluCache(positive, alpha)


def leaky_relu_backward(dout, cache):
    """Backward pass of leaky ReLU: derivative 1 for :math:`x > 0`, else alpha."""
    cache = check_cache(cache, LeakyReluCache, "leaky_relu_forward")
    positive, alpha = cache.positive, cache.alpha
    dout = check_upstream(dout, positive.shape, "leaky_relu_forward")
    return np.where(positive, dout, alpha * dout).astype(dout.dtype, copy=False)


# ---------------------------------------------------------------------- ELU


@dataclass(frozen=True, eq=False)
class EluCache:
    """What :func:`elu_forward` keeps: the mask ``x > 0``, ``out`` and ``alpha``."""

    positive: np.ndarray
    out: np.ndarray
    alpha: float


def elu_forward(x, alpha=1.0):
    """Exponential linear unit (lecture 004).

    .. math::

        \\mathrm{ELU}(x) = \\begin{cases} x & x > 0 \\\\
        \\alpha (e^x - 1) & x \\le 0 \\end{cases}

    Smooth at 0 for ``alpha = 1``, negative outputs push the mean activation
    towards zero, and it saturates to :math:`-\\alpha` for very negative
    inputs.

    Parameters
    ----------
    alpha : float, default 1.0
        Magnitude of the negative saturation, ``>= 0``; kept in the cache
        with the mask ``x > 0`` and ``out`` (the backward pass reuses it).
    """
    x = as_float_array(x, "x")
    alpha = non_negative(alpha, "alpha")
    positive = x > 0
    # expm1 is accurate near 0; the minimum keeps exp from overflowing on the
    # positive entries that np.where then discards anyway.
    negative_part = alpha * np.expm1(np.minimum(x, 0))
    out = np.where(positive, x, negative_part).astype(x.dtype, copy=False)
    return out, EluCache(positive, out, alpha)


def elu_backward(dout, cache):
    """Backward pass of ELU.

    For :math:`x \\le 0`, :math:`\\frac{d}{dx} \\alpha(e^x - 1) = \\alpha e^x
    = \\mathrm{ELU}(x) + \\alpha`, so the output is reused; for
    :math:`x > 0` the derivative is 1.
    """
    cache = check_cache(cache, EluCache, "elu_forward")
    positive, out, alpha = cache.positive, cache.out, cache.alpha
    dout = check_upstream(dout, out.shape, "elu_forward")
    return np.where(positive, dout, dout * (out + alpha)).astype(dout.dtype, copy=False)


# --------------------------------------------------------------------- sign


@dataclass(frozen=True, eq=False)
class SignCache:
    """What :func:`sign_forward` keeps: only the ``shape`` of ``x``."""

    shape: tuple


def sign_forward(x):
    """The perceptron's activation, :math:`\\mathrm{sign}(x) \\in \\{-1, 0, 1\\}`.

    ``sign(0) = 0`` (NumPy's convention); Rosenblatt's perceptron outputs
    :math:`\\pm 1` and only reaches 0 on the decision boundary itself. The
    cache keeps only the shape of ``x``: the backward pass needs nothing else.
    """
    x = as_float_array(x, "x")
    return np.sign(x), SignCache(x.shape)


def sign_backward(dout, cache):
    """Backward pass of sign: all zeros.

    The sign function is constant on :math:`x < 0` and on :math:`x > 0`, so
    its derivative is 0 almost everywhere (and undefined at the jump at 0).
    Every gradient that flows back through it is therefore multiplied by 0:
    the weights in front of a sign unit receive no learning signal at all,
    whatever the loss. This is why a network of perceptrons cannot be
    trained by backpropagation (lecture 003), and why the sign was replaced
    by smooth surrogates (sigmoid, tanh) and later by the ReLU family. The
    perceptron has its own learning rule instead, which does not use a
    derivative of the activation.
    """
    shape = check_cache(cache, SignCache, "sign_forward").shape
    dout = check_upstream(dout, shape, "sign_forward")
    return np.zeros(shape, dtype=dout.dtype)


# ------------------------------------------------------------------ softmax


@dataclass(frozen=True, eq=False)
class SoftmaxCache:
    """What :func:`softmax_forward` keeps: its output ``out``."""

    out: np.ndarray


def softmax_forward(x):
    """Softmax over the last axis, turning scores into probabilities.

    .. math::

        [\\mathrm{softmax}(\\mathbf{z})]_k = \\frac{e^{z_k}}{\\sum_l e^{z_l}}

    Subtracting the row maximum first leaves the result unchanged (numerator
    and denominator are both multiplied by :math:`e^{-\\max z}`) but keeps
    every exponent :math:`\\le 0`, so nothing overflows.

    Parameters
    ----------
    x : ndarray, shape (..., K)
        Scores; each slice along the last axis is normalised separately.

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
        Probabilities, each last-axis slice sums to 1.
    cache : SoftmaxCache
        ``out`` itself.
    """
    x = as_float_array(x, "x")
    if x.ndim == 0:
        raise ValueError(
            "x must be an array of at least 1-D (..., K) for softmax over the last "
            f"axis, got shape {x.shape} (0-D)"
        )
    exp = np.exp(x - x.max(axis=-1, keepdims=True))
    out = exp / exp.sum(axis=-1, keepdims=True)
    return out, SoftmaxCache(out)


def softmax_backward(dout, cache):
    """Backward pass of the softmax, as a Jacobian-vector product.

    With :math:`\\mathbf{p} = \\mathrm{softmax}(\\mathbf{z})` the Jacobian is
    :math:`\\partial \\mathbf{p} / \\partial \\mathbf{z} =
    \\mathrm{diag}(\\mathbf{p}) - \\mathbf{p}\\mathbf{p}^T`
    (:math:`\\partial p_k / \\partial z_j = p_k(\\delta_{kj} - p_j)`). For an
    upstream row vector :math:`\\mathbf{g}`,

    .. math::

        \\mathbf{g}\\,(\\mathrm{diag}(\\mathbf{p}) - \\mathbf{p}\\mathbf{p}^T)
        = \\mathbf{p} \\odot (\\mathbf{g} - (\\mathbf{g} \\cdot \\mathbf{p})
        \\mathbf{1}),

    which costs :math:`O(K)` per row instead of building the
    :math:`K \\times K` Jacobian.
    """
    p = check_cache(cache, SoftmaxCache, "softmax_forward").out
    dout = check_upstream(dout, p.shape, "softmax_forward")
    return p * (dout - np.sum(dout * p, axis=-1, keepdims=True))
