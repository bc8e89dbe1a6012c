"""Batch normalization (Ioffe and Szegedy, 2015), training and inference.

Lecture notation (004), for the scores :math:`\\mathbf{s}_1, \\dots,
\\mathbf{s}_n` of one mini-batch (each :math:`\\mathbf{s}_i \\in
\\mathbb{R}^m`):

.. math::

    \\boldsymbol{\\mu}_b = \\frac{1}{n} \\sum_{i=1}^n \\mathbf{s}_i, \\qquad
    v_{b,j} = \\frac{1}{n} \\sum_{i=1}^n (s_{i,j} - \\mu_{b,j})^2, \\qquad
    V_b = \\mathrm{diag}(\\mathbf{v}_b + \\epsilon),

.. math::

    \\hat{\\mathbf{s}}_i = V_b^{-1/2} (\\mathbf{s}_i - \\boldsymbol{\\mu}_b),
    \\qquad
    \\mathbf{y}_i = \\boldsymbol{\\gamma} \\odot \\hat{\\mathbf{s}}_i +
    \\boldsymbol{\\beta}.

The variance is the *biased* batch variance (divide by :math:`n`), as in the
paper, Keras and PyTorch. Each feature is normalised on its own: for
``x`` of shape ``(N, D)`` the statistics are taken over the batch axis; for
images ``(N, C, H, W)`` (and signals ``(N, C, L)``) over the batch *and* the
spatial positions of each channel, since a convolution shares its weights
over positions (so :math:`n = N H W` there).

At inference there is no batch: fixed statistics (running averages or the
lecture's population estimates) turn the layer into a fixed affine map, see
:func:`batchnorm_inference`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import (
    as_float_array,
    check_cache,
    check_ndim,
    check_shape,
    check_upstream,
    positive,
)

__all__ = [
    "BatchNormCache",
    "batchnorm_forward",
    "batchnorm_backward",
    "batchnorm_backward_compact",
    "batchnorm_affine",
    "batchnorm_inference",
]

_LAYOUT = "(N, D), (N, C, L) or (N, C, H, W)"


@dataclass(frozen=True, eq=False)
class BatchNormCache:
    """What :func:`batchnorm_forward` remembers for the backward pass.

    Per-feature arrays have shape ``(D,)`` / ``(C,)``; the others have the
    shape of ``x``.

    Attributes
    ----------
    centered : ndarray, shape of x
        :math:`\\mathbf{s}_i - \\boldsymbol{\\mu}_b`.
    x_hat : ndarray, shape of x
        The normalised input :math:`\\hat{\\mathbf{s}}_i`.
    mean : ndarray, shape (C,)
        The batch mean :math:`\\boldsymbol{\\mu}_b`.
    var : ndarray, shape (C,)
        The biased batch variance :math:`\\mathbf{v}_b` (divided by ``m``).
        A layer's running estimate uses the unbiased ``var * m / (m - 1)``.
    inv_std : ndarray, shape (C,)
        :math:`(\\mathbf{v}_b + \\epsilon)^{-1/2}`, the diagonal of
        :math:`V_b^{-1/2}`.
    gamma : ndarray, shape (C,)
        The scale used in the forward pass.
    m : int
        Number of values averaged per feature: ``N`` for ``(N, D)``,
        ``N * H * W`` for ``(N, C, H, W)``, ``N * L`` for ``(N, C, L)``.
    """

    centered: np.ndarray
    x_hat: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    inv_std: np.ndarray
    gamma: np.ndarray
    m: int

    def per_feature(self, v: np.ndarray) -> np.ndarray:
        """Reshape a ``(C,)`` array so it broadcasts against ``x``."""
        return _per_feature(v, self.centered.ndim)


def _per_feature(v: np.ndarray, ndim: int) -> np.ndarray:
    """``(C,)`` -> ``(1, C)``, ``(1, C, 1)`` or ``(1, C, 1, 1)``."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


# The statistics are sums over every axis except the feature axis 1. NumPy's
# ``a.sum(axis=(0, 2, 3))`` walks such non-adjacent axes slowly, and
# ``np.sum(a * b, axis=...)`` first writes the product to a temporary as big
# as ``x``. ``einsum`` over an ``(N, C, L)`` view computes the same sums in
# one pass with several accumulators (3-4x faster here).


def _as_ncl(a: np.ndarray) -> np.ndarray:
    """``(N, D)`` -> ``(N, D, 1)``, ``(N, C, H, W)`` -> ``(N, C, H*W)``."""
    return a.reshape(a.shape[0], a.shape[1], -1)


def _sum_per_feature(a: np.ndarray) -> np.ndarray:
    """The sum of ``a`` over every axis but 1: one value per feature."""
    return np.einsum("ncl->c", _as_ncl(a))


def _dot_per_feature(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``_sum_per_feature(a * b)`` without the temporary ``a * b``."""
    return np.einsum("ncl,ncl->c", _as_ncl(a), _as_ncl(b))


def _check_x(x) -> np.ndarray:
    x = as_float_array(x, "x")
    check_ndim(x, "x", (2, 3, 4), _LAYOUT)
    return x


def _check_per_feature(v, name: str, x: np.ndarray) -> np.ndarray:
    v = as_float_array(v, name)
    what = "feature, D" if x.ndim == 2 else "channel, C"
    check_shape(v, name, (x.shape[1],), f"one per {what} = x.shape[1]")
    return v.astype(x.dtype, copy=False)


def batchnorm_forward(x, gamma, beta, eps=1e-5):
    """Batch normalization in training mode (statistics of this batch).

    Parameters
    ----------
    x : ndarray, shape (N, D), (N, C, L) or (N, C, H, W)
    gamma : ndarray, shape (D,) or (C,)
        Scale :math:`\\boldsymbol{\\gamma}`.
    beta : ndarray, shape (D,) or (C,)
        Shift :math:`\\boldsymbol{\\beta}`.
    eps : float, default 1e-5
        Added to the variance before the square root, so that a feature
        that is constant in the batch does not divide by zero.

    Returns
    -------
    out : ndarray, shape and dtype of ``x``
        :math:`\\boldsymbol{\\gamma} \\odot \\hat{\\mathbf{s}}_i +
        \\boldsymbol{\\beta}`.
    cache : BatchNormCache
        Intermediate values for the backward pass; ``cache.mean``,
        ``cache.var`` (biased) and ``cache.m`` are what a layer needs to
        update its running statistics.

    Notes
    -----
    With a single value per feature (``m = 1``) the variance is 0,
    :math:`\\hat{\\mathbf{s}} = 0` and the output is just ``beta``.
    """
    x = _check_x(x)
    gamma = _check_per_feature(gamma, "gamma", x)
    beta = _check_per_feature(beta, "beta", x)
    eps = positive(eps, "eps")

    m = x.size // x.shape[1]
    mean = _sum_per_feature(x) / m
    centered = x - _per_feature(mean, x.ndim)
    var = _dot_per_feature(centered, centered) / m  # biased: divide by m
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = centered * _per_feature(inv_std, x.ndim)
    out = x_hat * _per_feature(gamma, x.ndim)
    out += _per_feature(beta, x.ndim)  # in place: one temporary fewer

    cache = BatchNormCache(
        centered=centered,
        x_hat=x_hat,
        mean=mean,
        var=var,
        inv_std=inv_std,
        gamma=gamma,
        m=m,
    )
    return out, cache


def _check_dout(dout, cache: BatchNormCache) -> np.ndarray:
    check_cache(cache, BatchNormCache, "batchnorm_forward")
    return check_upstream(dout, cache.centered.shape, "batchnorm_forward")


def _parameter_gradients(dout, cache: BatchNormCache):
    """:math:`\\partial J/\\partial\\gamma = \\sum_i g_i \\odot \\hat{s}_i`,
    :math:`\\partial J/\\partial\\beta = \\sum_i g_i` (summed over every axis
    but the feature axis 1)."""
    dgamma = _dot_per_feature(dout, cache.x_hat)
    dbeta = _sum_per_feature(dout)
    return dgamma, dbeta


def batchnorm_backward(dout, cache):
    """Backward pass of batch normalization, through the computational graph.

    This follows the lecture's derivation (004) step by step. The graph is
    :math:`\\mathbf{s}_i \\to \\{\\boldsymbol{\\mu}_b, \\mathbf{v}_b,
    \\hat{\\mathbf{s}}_i\\}`, :math:`\\boldsymbol{\\mu}_b \\to
    \\{\\mathbf{v}_b, \\hat{\\mathbf{s}}_1, \\dots, \\hat{\\mathbf{s}}_n\\}`,
    :math:`\\mathbf{v}_b \\to \\{\\hat{\\mathbf{s}}_1, \\dots,
    \\hat{\\mathbf{s}}_n\\}`, and the gradient of a node is the sum over its
    children. All Jacobians involved are diagonal, so every product below is
    element-wise (per feature).

    0. Through the scale and shift :math:`\\mathbf{y}_i = \\boldsymbol{\\gamma}
       \\odot \\hat{\\mathbf{s}}_i + \\boldsymbol{\\beta}`:

       .. math::
           \\frac{\\partial J}{\\partial \\hat{\\mathbf{s}}_i} =
           \\frac{\\partial J}{\\partial \\mathbf{y}_i} \\odot \\boldsymbol{\\gamma}

    1. The variance; its children are :math:`\\hat{\\mathbf{s}}_1, \\dots,
       \\hat{\\mathbf{s}}_n` and :math:`\\partial \\hat{\\mathbf{s}}_i /
       \\partial \\mathbf{v}_b = -\\tfrac12 V_b^{-3/2}
       \\mathrm{diag}(\\mathbf{s}_i - \\boldsymbol{\\mu}_b)`:

       .. math::
           \\frac{\\partial J}{\\partial \\mathbf{v}_b} = -\\frac{1}{2}
           \\sum_{i=1}^n \\frac{\\partial J}{\\partial \\hat{\\mathbf{s}}_i}
           V_b^{-3/2} \\mathrm{diag}(\\mathbf{s}_i - \\boldsymbol{\\mu}_b)

    2. The mean; its children are the :math:`\\hat{\\mathbf{s}}_i`
       (:math:`\\partial \\hat{\\mathbf{s}}_i / \\partial \\boldsymbol{\\mu}_b =
       -V_b^{-1/2}`) and :math:`\\mathbf{v}_b`, whose Jacobian
       :math:`\\partial \\mathbf{v}_b / \\partial \\boldsymbol{\\mu}_b =
       -\\frac{2}{n} \\mathrm{diag}(\\sum_i (\\mathbf{s}_i -
       \\boldsymbol{\\mu}_b))` is zero because the deviations from the mean
       sum to zero:

       .. math::
           \\frac{\\partial J}{\\partial \\boldsymbol{\\mu}_b} =
           -\\sum_{i=1}^n \\frac{\\partial J}{\\partial \\hat{\\mathbf{s}}_i}
           V_b^{-1/2}

    3. Each input, with :math:`\\partial \\hat{\\mathbf{s}}_i / \\partial
       \\mathbf{s}_i = V_b^{-1/2}`, :math:`\\partial \\mathbf{v}_b / \\partial
       \\mathbf{s}_i = \\frac{2}{n} \\mathrm{diag}(\\mathbf{s}_i -
       \\boldsymbol{\\mu}_b)` and :math:`\\partial \\boldsymbol{\\mu}_b /
       \\partial \\mathbf{s}_i = \\frac{1}{n} I`:

       .. math::
           \\frac{\\partial J}{\\partial \\mathbf{s}_i} =
           \\frac{\\partial J}{\\partial \\hat{\\mathbf{s}}_i} V_b^{-1/2}
           + \\frac{2}{n} \\frac{\\partial J}{\\partial \\mathbf{v}_b}
           \\mathrm{diag}(\\mathbf{s}_i - \\boldsymbol{\\mu}_b)
           + \\frac{1}{n} \\frac{\\partial J}{\\partial \\boldsymbol{\\mu}_b}

    For images, "the batch" of a channel is all :math:`n = N H W` of its
    values, so the sums run over the batch and spatial axes.
    :func:`batchnorm_backward_compact` gives the same result in one line.

    Parameters
    ----------
    dout : ndarray, shape of x
        Upstream gradient :math:`\\partial J / \\partial \\mathbf{y}_i`.
    cache : BatchNormCache
        From :func:`batchnorm_forward`.

    Returns
    -------
    dx : ndarray, shape of x
    dgamma : ndarray, shape (C,)
    dbeta : ndarray, shape (C,)
    """
    dout = _check_dout(dout, cache)
    n, per_feature = cache.m, cache.per_feature
    inv_std = per_feature(cache.inv_std)  # diagonal of V_b^(-1/2)
    centered = cache.centered  # s_i - mu_b

    # Step 0: through y = gamma * s_hat + beta.
    d_s_hat = dout * per_feature(cache.gamma)
    # Step 1: dJ/dv_b, summed over the children s_hat_1..s_hat_n.
    d_var = -0.5 * _dot_per_feature(d_s_hat, centered) * cache.inv_std**3
    # Step 2: dJ/dmu_b; the path through v_b contributes zero.
    d_mean = -_sum_per_feature(d_s_hat) * cache.inv_std
    # Step 3: dJ/ds_i, from its three children s_hat_i, v_b and mu_b.
    # (Summed in place, reusing d_s_hat's memory: it is not needed again.)
    dx = np.multiply(d_s_hat, inv_std, out=d_s_hat)
    dx += (2 / n) * per_feature(d_var) * centered
    dx += per_feature(d_mean) / n

    dgamma, dbeta = _parameter_gradients(dout, cache)
    return dx, dgamma, dbeta


def batchnorm_backward_compact(dout, cache):
    """Backward pass of batch normalization in closed form.

    Substituting steps 1 and 2 of :func:`batchnorm_backward` into step 3 and
    using :math:`\\hat{\\mathbf{s}}_i = V_b^{-1/2}(\\mathbf{s}_i -
    \\boldsymbol{\\mu}_b)`, with :math:`\\mathbf{g}_i = \\partial J /
    \\partial \\mathbf{y}_i` (per feature, element-wise):

    .. math::

        \\frac{\\partial J}{\\partial \\mathbf{s}_i} =
        \\frac{\\boldsymbol{\\gamma} \\odot (\\mathbf{v}_b + \\epsilon)^{-1/2}}{n}
        \\odot \\Big( n\\, \\mathbf{g}_i - \\sum_{k} \\mathbf{g}_k
        - \\hat{\\mathbf{s}}_i \\odot \\sum_{k} \\mathbf{g}_k \\odot
        \\hat{\\mathbf{s}}_k \\Big)

    The two sums are exactly ``dbeta`` and ``dgamma``. In words: the
    gradient is the upstream gradient, minus its mean, minus its component
    along :math:`\\hat{\\mathbf{s}}`; normalization removes the directions
    that would change the batch mean or the batch variance.

    Same arguments and returns as :func:`batchnorm_backward`.
    """
    dout = _check_dout(dout, cache)
    per_feature = cache.per_feature
    dgamma, dbeta = _parameter_gradients(dout, cache)
    scale = per_feature(cache.gamma * cache.inv_std / cache.m)
    dx = scale * (
        cache.m * dout - per_feature(dbeta) - cache.x_hat * per_feature(dgamma)
    )
    return dx, dgamma, dbeta


def batchnorm_affine(gamma, beta, mean, var, eps=1e-5):
    """Fold fixed statistics into one scale and shift per feature.

    With a fixed mean :math:`\\boldsymbol{\\mu}` and variance
    :math:`\\mathbf{v}` (running averages, or the lecture's population
    estimates :math:`E[\\boldsymbol{\\mu}_b]` and
    :math:`\\frac{m}{m-1} E[\\mathbf{v}_b]`), batch normalization is the
    affine map

    .. math::

        \\mathbf{y} = \\boldsymbol{\\gamma} \\odot
        \\frac{\\mathbf{x} - \\boldsymbol{\\mu}}{\\sqrt{\\mathbf{v} + \\epsilon}}
        + \\boldsymbol{\\beta} = \\mathbf{a} \\odot \\mathbf{x} + \\mathbf{c},
        \\qquad
        \\mathbf{a} = \\frac{\\boldsymbol{\\gamma}}{\\sqrt{\\mathbf{v} +
        \\epsilon}}, \\quad
        \\mathbf{c} = \\boldsymbol{\\beta} - \\mathbf{a} \\odot
        \\boldsymbol{\\mu}.

    Following a dense layer :math:`\\mathbf{s} = W\\mathbf{x} + \\mathbf{b}`,
    it can be folded into it: :math:`W' = \\mathrm{diag}(\\mathbf{a}) W`,
    :math:`\\mathbf{b}' = \\mathbf{a} \\odot \\mathbf{b} + \\mathbf{c}`.

    Parameters
    ----------
    gamma, beta, mean, var : ndarray, shape (C,)
    eps : float, default 1e-5

    Returns
    -------
    scale : ndarray, shape (C,)
        :math:`\\mathbf{a}`.
    shift : ndarray, shape (C,)
        :math:`\\mathbf{c}`.
    """
    gamma = as_float_array(gamma, "gamma")
    check_ndim(gamma, "gamma", 1, "(C,)")
    beta = as_float_array(beta, "beta")
    mean = as_float_array(mean, "mean")
    var = as_float_array(var, "var")
    for name, v in (("beta", beta), ("mean", mean), ("var", var)):
        check_shape(v, name, gamma.shape, "the shape of gamma")
    if np.any(var < 0):
        raise ValueError(f"var must be >= 0 (a variance), got minimum {var.min()}")
    eps = positive(eps, "eps")

    scale = gamma / np.sqrt(var + eps)
    shift = beta - scale * mean
    return scale, shift


def batchnorm_inference(x, gamma, beta, mean, var, eps=1e-5):
    """Batch normalization at inference: a fixed affine map per feature.

    ``out = scale * x + shift`` with ``scale, shift = batchnorm_affine(gamma,
    beta, mean, var, eps)``; each example is processed independently of the
    rest of the batch. Its gradient with respect to ``x`` is simply
    ``dout * scale`` (per feature).

    Parameters
    ----------
    x : ndarray, shape (N, D), (N, C, L) or (N, C, H, W)
    gamma, beta : ndarray, shape (D,) or (C,)
    mean, var : ndarray, shape (D,) or (C,)
        Fixed statistics (e.g. a layer's running mean and variance).
    eps : float, default 1e-5

    Returns
    -------
    out : ndarray, shape and dtype of ``x``
    """
    x = _check_x(x)
    gamma = _check_per_feature(gamma, "gamma", x)
    beta = _check_per_feature(beta, "beta", x)
    mean = _check_per_feature(mean, "mean", x)
    var = _check_per_feature(var, "var", x)
    scale, shift = batchnorm_affine(gamma, beta, mean, var, eps)
    return x * _per_feature(scale, x.ndim) + _per_feature(shift, x.ndim)
