r"""Weight initializers and the data-dependent LSUV initialization.

Every initializer is a function ``name(shape, rng, **hyper) -> ndarray``:
``shape`` is the weight's shape in the course's layout, ``rng`` a
``numpy.random.Generator`` or an int seed, and ``dtype`` (float64 unless
asked) the dtype of the result. Fan-in and fan-out are read off the shape
(:func:`fans`), the same way Keras and PyTorch do it:

* dense ``(D_out, D_in)``: ``fan_in = D_in``, ``fan_out = D_out``;
* conv1d ``(F, C, K)``: ``fan_in = C * K``, ``fan_out = F * K``;
* conv2d ``(F, C, KH, KW)``: ``fan_in = C * KH * KW``,
  ``fan_out = F * KH * KW``.

Why the variances (lectures 002-004): for :math:`s = W x` with independent
zero-mean weights and inputs, :math:`\mathrm{Var}[s_i] = n_{in}
\mathrm{Var}[w] \mathrm{Var}[x]`. Keeping the signal's variance constant
through the layers asks for :math:`n_{in} \mathrm{Var}[w] = 1`
(:func:`xavier_lecture`, the lectures' "Xavier"); Glorot and Bengio average
the forward and backward conditions into :math:`\mathrm{Var}[w] = 2 /
(n_{in} + n_{out})` (:func:`glorot_normal`, :func:`glorot_uniform`); ReLU
zeroes half of its inputs, which He et al. compensate with
:math:`\mathrm{Var}[w] = 2 / n_{in}` (:func:`he_normal`,
:func:`he_uniform`). :func:`orthogonal` (Saxe et al.) and :func:`lsuv`
(Mishkin and Matas) are the other two schemes of lecture 003.

:func:`get` maps a name (``"he_normal"``) to its function, for
``Dense(kernel_initializer="he_normal")``.

Names that do not trap: "Xavier" means two different variances. The
lectures' Xavier is :math:`1/n_{in}` (:func:`xavier_lecture`, what
assignment 02 asks for); Glorot and Bengio's, PyTorch's ``xavier_normal_``
and Keras's ``glorot_normal`` is :math:`2/(n_{in} + n_{out})`
(:func:`glorot_normal`). So the bare names ``"xavier_normal"`` and
``"xavier_uniform"`` are refused with a message naming both, rather than
silently meaning one of them.
"""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

import numpy as np

from ._validation import as_float_array, check_rng, float_dtype, positive, positive_int

__all__ = [
    "fans",
    "zeros",
    "ones",
    "normal",
    "uniform",
    "glorot_normal",
    "glorot_uniform",
    "xavier_lecture",
    "he_normal",
    "he_uniform",
    "orthogonal",
    "lsuv",
    "LSUVResult",
    "get",
]

# The standard deviation of a standard normal truncated to [-2, 2]. Keras
# divides by it so that the *truncated* samples have the requested variance.
_TRUNCATED_STD = 0.87962566103423978


def _shape(shape, min_rank: int) -> tuple[int, ...]:
    """Validate ``shape`` as a tuple of positive ints of rank >= ``min_rank``."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(
            f"shape must be a tuple of positive ints, got {shape!r} "
            f"({type(shape).__name__})"
        )
    shape = tuple(positive_int(n, "shape") for n in shape)
    if len(shape) < min_rank:
        raise ValueError(
            f"shape must have at least {min_rank} dimensions (D_out, D_in) or "
            f"(F, C, KH, KW) to define fan-in and fan-out, got {shape}"
        )
    return shape


def fans(shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of shape ``(D_out, D_in, *kernel)``.

    The receptive field (product of the kernel dimensions, 1 for a dense
    layer) multiplies both: ``fan_in = D_in * prod(kernel)``, ``fan_out =
    D_out * prod(kernel)``.
    """
    shape = _shape(shape, 2)
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _truncated_normal(rng, shape, std) -> np.ndarray:
    """Normal samples with standard deviation ``std`` after truncation at 2 sigma.

    Samples beyond two (pre-truncation) standard deviations are redrawn,
    as in Keras's ``TruncatedNormal``; the pre-truncation deviation is
    ``std / 0.8796`` so that the result has standard deviation ``std``.
    """
    z = rng.standard_normal(shape)
    outside = np.abs(z) > 2.0
    while outside.any():
        z[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(z) > 2.0
    return z * (std / _TRUNCATED_STD)


def zeros(shape, rng=None, *, dtype=np.float64) -> np.ndarray:
    """All zeros (the usual bias initializer). ``rng`` is accepted and unused.

    Zero *weights* make every unit of a layer compute the same function and
    receive the same gradient, so they never become different (lecture 004).
    """
    return np.zeros(_shape(shape, 1), dtype=float_dtype(dtype))


def ones(shape, rng=None, *, dtype=np.float64) -> np.ndarray:
    """All ones (e.g. BatchNorm's ``gamma``). ``rng`` is accepted and unused."""
    return np.ones(_shape(shape, 1), dtype=float_dtype(dtype))


def normal(shape, rng, std: float = 0.01, *, dtype=np.float64) -> np.ndarray:
    r"""Plain Gaussian :math:`w \sim \mathcal{N}(0, \mathrm{std}^2)`.

    ``std=0.01`` is the "small random numbers" of lecture 004, whose
    activations shrink to zero after a few tanh layers; ``std=1`` saturates
    them.
    """
    shape = _shape(shape, 1)
    rng = check_rng(rng)
    std = positive(std, "std")
    return (std * rng.standard_normal(shape)).astype(float_dtype(dtype), copy=False)


def uniform(shape, rng, limit: float = 0.05, *, dtype=np.float64) -> np.ndarray:
    r"""Uniform :math:`w \sim U(-\mathrm{limit}, \mathrm{limit})`.

    Its variance is :math:`\mathrm{limit}^2 / 3` (Keras's ``RandomUniform``
    default range is ``[-0.05, 0.05]``).
    """
    shape = _shape(shape, 1)
    rng = check_rng(rng)
    limit = positive(limit, "limit")
    return rng.uniform(-limit, limit, size=shape).astype(float_dtype(dtype), copy=False)


def glorot_normal(shape, rng, *, truncated: bool = True, dtype=np.float64):
    r"""Glorot (Xavier) normal: variance :math:`2 / (n_{in} + n_{out})`.

    Follows Keras: a normal truncated at two standard deviations and
    rescaled so that the weights' standard deviation is exactly
    :math:`\sqrt{2 / (n_{in} + n_{out})}`. With ``truncated=False`` it is the
    plain normal :math:`\mathcal{N}(0, 2/(n_{in} + n_{out}))` of lecture 002
    and of PyTorch's ``xavier_normal_``; both have the same variance.
    """
    fan_in, fan_out = fans(shape)
    std = math.sqrt(2.0 / (fan_in + fan_out))
    return _scaled_normal(shape, rng, std, truncated, dtype)


def glorot_uniform(shape, rng, *, dtype=np.float64) -> np.ndarray:
    r"""Glorot (Xavier) uniform: :math:`U(-l, l)` with a symmetric limit.

    :math:`l = \sqrt{6 / (n_{in} + n_{out})}`, so that the variance
    :math:`l^2 / 3 = 2 / (n_{in} + n_{out})` equals that of
    :func:`glorot_normal`. Keras's default kernel initializer.
    """
    fan_in, fan_out = fans(shape)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return _scaled_uniform(shape, rng, limit, dtype)


def xavier_lecture(shape, rng, *, dtype=np.float64) -> np.ndarray:
    r"""The lectures' Xavier: :math:`w \sim \mathcal{N}(0, 1 / n_{in})`.

    A plain normal with :math:`\sigma = 1/\sqrt{n_{in}}`. Lecture 004
    derives it from :math:`n_{in} \mathrm{Var}[w] = 1` (the forward
    condition alone); Keras calls the truncated version LeCun normal.
    """
    fan_in, _ = fans(shape)
    return _scaled_normal(shape, rng, 1.0 / math.sqrt(fan_in), False, dtype)


def he_normal(shape, rng, *, truncated: bool = True, dtype=np.float64):
    r"""He (Kaiming) normal for ReLU: variance :math:`2 / n_{in}`.

    Truncated at two standard deviations and rescaled as in Keras (see
    :func:`glorot_normal`); ``truncated=False`` gives the plain
    :math:`\mathcal{N}(0, 2 / n_{in})` of the lectures and PyTorch's
    ``kaiming_normal_``.
    """
    fan_in, _ = fans(shape)
    return _scaled_normal(shape, rng, math.sqrt(2.0 / fan_in), truncated, dtype)


def he_uniform(shape, rng, *, dtype=np.float64) -> np.ndarray:
    r"""He uniform: :math:`U(-l, l)`, :math:`l = \sqrt{6 / n_{in}}`.

    Variance :math:`l^2/3 = 2 / n_{in}`, that of :func:`he_normal`.
    """
    fan_in, _ = fans(shape)
    limit = math.sqrt(6.0 / fan_in)
    return _scaled_uniform(shape, rng, limit, dtype)


def _scaled_uniform(shape, rng, limit, dtype) -> np.ndarray:
    shape = _shape(shape, 2)
    w = check_rng(rng).uniform(-limit, limit, size=shape)
    return w.astype(float_dtype(dtype), copy=False)


def _scaled_normal(shape, rng, std, truncated, dtype) -> np.ndarray:
    shape = _shape(shape, 2)
    rng = check_rng(rng)
    if not isinstance(truncated, (bool, np.bool_)):
        raise TypeError(f"truncated must be True or False, got {truncated!r}")
    w = (
        _truncated_normal(rng, shape, std)
        if truncated
        else std * rng.standard_normal(shape)
    )
    return w.astype(float_dtype(dtype), copy=False)


def orthogonal(shape, rng, gain: float = 1.0, *, dtype=np.float64) -> np.ndarray:
    r"""A (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2014).

    The weight is viewed as a matrix of ``rows = shape[0]`` by
    ``cols = prod(shape[1:])`` (a conv kernel's filters become rows). A
    Gaussian matrix of that shape (transposed if it is wide) is factored
    :math:`A = QR`; multiplying each column of :math:`Q` by the sign of
    :math:`R`'s diagonal makes the result uniformly distributed over the
    orthogonal matrices (without it the QR convention biases the signs).
    The result has orthonormal rows (:math:`W W^T = I`) when ``rows <=
    cols`` and orthonormal columns (:math:`W^T W = I`) otherwise, times
    ``gain``. Every singular value equals ``gain``, so a linear layer
    preserves the norm of its input (along the row space).
    """
    shape = _shape(shape, 2)
    rng = check_rng(rng)
    gain = positive(gain, "gain")
    rows, cols = shape[0], math.prod(shape[1:])
    a = rng.standard_normal((rows, cols))
    if rows < cols:
        a = a.T
    q, r = np.linalg.qr(a)
    q *= np.where(np.diag(r) < 0, -1.0, 1.0)
    if rows < cols:
        q = q.T
    return (gain * q).reshape(shape).astype(float_dtype(dtype), copy=False)


_REGISTRY = {
    "zeros": zeros,
    "ones": ones,
    "normal": normal,
    "random_normal": normal,
    "uniform": uniform,
    "random_uniform": uniform,
    "glorot_normal": glorot_normal,
    "glorot_uniform": glorot_uniform,
    "xavier_lecture": xavier_lecture,
    "he_normal": he_normal,
    "kaiming_normal": he_normal,
    "he_uniform": he_uniform,
    "kaiming_uniform": he_uniform,
    "orthogonal": orthogonal,
}


# Names that mean different variances in different places: refused, with
# the names that say which variance is meant.
_AMBIGUOUS = {
    "xavier_normal": (
        "'xavier_normal' is ambiguous: use 'xavier_lecture' for the lectures' "
        "Xavier, N(0, 1/n_in), or 'glorot_normal' for Glorot and Bengio's "
        "variance 2/(n_in + n_out) (PyTorch's xavier_normal_)"
    ),
    "xavier_uniform": (
        "'xavier_uniform' is ambiguous: use 'glorot_uniform' for Glorot and "
        "Bengio's U(-l, l) with variance 2/(n_in + n_out) (PyTorch's "
        "xavier_uniform_), or 'xavier_lecture' for the lectures' N(0, 1/n_in)"
    ),
}


def get(identifier):
    """Return the initializer function named ``identifier`` (or a callable as is).

    Names (case-insensitive): ``zeros``, ``ones``, ``normal``
    (``random_normal``), ``uniform`` (``random_uniform``), ``glorot_normal``,
    ``glorot_uniform``, ``xavier_lecture``, ``he_normal``
    (``kaiming_normal``), ``he_uniform`` (``kaiming_uniform``),
    ``orthogonal``. ``"xavier_normal"`` and ``"xavier_uniform"`` raise a
    ``ValueError`` naming the two variances they could mean.
    """
    if callable(identifier):
        return identifier
    if isinstance(identifier, str):
        if identifier.lower() in _AMBIGUOUS:
            raise ValueError(_AMBIGUOUS[identifier.lower()])
        fn = _REGISTRY.get(identifier.lower())
        if fn is None:
            raise ValueError(
                f"initializer must be one of {sorted(_REGISTRY)}, got {identifier!r}"
            )
        return fn
    raise TypeError(
        "initializer must be a name such as 'he_normal' or a function "
        f"(shape, rng) -> array, got {identifier!r} ({type(identifier).__name__})"
    )


class LSUVResult(NamedTuple):
    """What :func:`lsuv` did to one layer: the ``layer``, the ``variance`` of
    its output after the last rescaling, and the number of rescalings
    (``iterations``)."""

    layer: object
    variance: float
    iterations: int


def lsuv(
    model,
    x_batch,
    tol: float = 0.1,
    max_iter: int = 10,
    *,
    rng=0,
    orthonormal: bool = True,
) -> list[LSUVResult]:
    r"""Layer-sequential unit-variance initialization (Mishkin and Matas, 2016).

    Lecture 003's Algorithm 1, applied in place to a built model:

    1. pre-initialize every weight ``W`` with :func:`orthogonal` matrices;
    2. for each layer :math:`L` with a weight, in order: run the mini-batch
       forward to :math:`L`'s output :math:`B_L` (before the activation,
       which is a separate layer) and, while
       :math:`|\mathrm{Var}(B_L) - 1| \ge \mathrm{tol}` and fewer than
       ``max_iter`` rescalings were done, set
       :math:`W_L \leftarrow W_L / \sqrt{\mathrm{Var}(B_L)}`.

    For a layer without bias one rescaling is exact (the output is linear
    in ``W``); a bias makes it approximate, hence the loop. A layer with a
    fused activation (``Dense(64, activation="tanh")``) is measured before
    that activation. The variance is taken over all entries of the output
    (examples, units, positions).
    Containers (``Residual``) are entered: their sublayers are processed in
    order on the container's input, then the container's own output is
    passed on. A weight shared by two layers (a tied autoencoder's decoder)
    is scaled for the first of them only.

    Parameters
    ----------
    model : Sequential, list of layers, or a Layer
        Anything with ``.layers``, or the layers themselves; layers with a
        weight hold it in ``params["W"]`` (dense ``(D_out, D_in)``, conv
        ``(F, C, KH, KW)``), modified in place.
    x_batch : ndarray
        A representative mini-batch of inputs, ``(N, ...)``.
    tol : float
        Variance tolerance, > 0.
    max_iter : int
        Maximal number of rescalings per layer, >= 1.
    rng : numpy.random.Generator or int
        For the orthonormal pre-initialization.
    orthonormal : bool
        Skip step 1 with ``False`` (rescale the weights as they are).

    Returns
    -------
    list of LSUVResult
        One entry per weighted layer, in order: the layer, its output
        variance after the last rescaling and the number of rescalings.
    """
    layers = _layers_of(model)
    x = as_float_array(x_batch, "x_batch")
    tol = positive(tol, "tol")
    max_iter = positive_int(max_iter, "max_iter")
    rng = check_rng(rng)
    if not isinstance(orthonormal, (bool, np.bool_)):
        raise TypeError(f"orthonormal must be True or False, got {orthonormal!r}")
    weighted = [layer for layer in _walk(layers) if "W" in layer.params]
    if not weighted:
        raise ValueError(
            "model has no layer with a weight params['W'] to initialize; "
            "build it first (e.g. model.build(input_shape)) or run one forward pass"
        )
    if orthonormal:
        distinct = {id(layer.params["W"]): layer.params["W"] for layer in weighted}
        for w in distinct.values():
            w[...] = orthogonal(w.shape, rng, dtype=w.dtype)
    results: list[LSUVResult] = []
    _lsuv_pass(layers, x, tol, max_iter, results)
    return results


def _lsuv_pass(layers, h, tol, max_iter, results):
    """Rescale the weighted layers of ``layers`` in order; return the output."""
    for layer in layers:
        children = _children(layer)
        if children:
            _lsuv_pass(children, h, tol, max_iter, results)
            h = layer.forward(h, training=False)
        elif "W" in layer.params and not _already_scaled(layer, results):
            h = _rescale_layer(layer, h, tol, max_iter, results)
        else:
            h = layer.forward(h, training=False)
    return h


def _already_scaled(layer, results) -> bool:
    """True if ``layer`` shares its ``W`` with a layer scaled before it."""
    return any(r.layer.params["W"] is layer.params["W"] for r in results)


def _rescale_layer(layer, h, tol, max_iter, results):
    w = layer.params["W"]
    variance = _output_variance(layer, h)
    iterations = 0
    while abs(variance - 1.0) >= tol and iterations < max_iter:
        if not np.isfinite(variance) or variance == 0.0:
            raise ValueError(
                f"lsuv: the output of {layer!r} has variance {variance}; it "
                "cannot be rescaled to 1 (dead units or a constant input batch?)"
            )
        w /= math.sqrt(variance)
        iterations += 1
        variance = _output_variance(layer, h)
    results.append(LSUVResult(layer, variance, iterations))
    return layer.forward(h, training=False)


def _output_variance(layer, h) -> float:
    """Variance of the layer's output *before* a fused activation.

    ``Dense(64, activation="tanh")`` applies its ``activation`` inside
    ``forward``; it is switched off for the measurement, so that the
    variance is that of the scores :math:`W x + b`, as for a Dense layer
    followed by a separate activation layer.
    """
    activation = getattr(layer, "activation", None)
    if activation is None:
        return float(np.var(layer.forward(h, training=False), dtype=np.float64))
    layer.activation = None
    try:
        out = layer.forward(h, training=False)
    finally:
        layer.activation = activation
    return float(np.var(out, dtype=np.float64))


def _layers_of(model) -> list:
    layers = getattr(model, "layers", model)
    if hasattr(layers, "forward") and hasattr(layers, "params"):
        layers = [layers]
    if not isinstance(layers, (list, tuple)):
        raise TypeError(
            "model must be a Sequential (with .layers), a list of layers or a "
            f"layer, got {type(model).__name__}"
        )
    for i, layer in enumerate(layers):
        if not (hasattr(layer, "forward") and hasattr(layer, "params")):
            raise TypeError(
                f"model.layers[{i}] must be a Layer (with forward and params), "
                f"got {type(layer).__name__}"
            )
    return list(layers)


def _walk(layers):
    for layer in layers:
        children = _children(layer)
        if children:
            yield from _walk(children)
        else:
            yield layer


def _children(layer) -> list:
    sublayers = getattr(layer, "sublayers", None)
    return list(sublayers()) if callable(sublayers) else []
