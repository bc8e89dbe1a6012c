"""Batch normalization as a layer, and its inference three ways.

Training always normalises with the statistics of the current mini-batch
(:func:`dlcore.functional.batchnorm_forward`). At inference there is no
batch to take statistics from, so fixed estimates :math:`\\bar\\mu,
\\bar\\sigma^2` replace them and the layer becomes the fixed affine map

.. math::

    y = \\frac{\\gamma}{\\sqrt{\\bar\\sigma^2 + \\epsilon}}\\, x +
    \\Big(\\beta - \\frac{\\gamma \\bar\\mu}{\\sqrt{\\bar\\sigma^2 +
    \\epsilon}}\\Big)

(the lecture's folded form, 000). Three ways to get there:

(a) **Running averages** (PyTorch, the default): during training each batch
    updates ``running = (1 - momentum) * running + momentum * batch``, with
    the *unbiased* batch variance ``var_B * m / (m - 1)``.
    ``forward(x, training=False)`` uses them.
(b) **Population statistics** (the lecture, Ioffe and Szegedy's
    Algorithm 2): after training, with the weights fixed, run many random
    mini-batches of size ``m`` from the training set and set
    :math:`\\bar\\mu = E[\\mu_B]`, :math:`\\bar\\sigma^2 = \\frac{m}{m-1}
    E[\\sigma_B^2]` (:func:`estimate_population_statistics`).
(c) **Folding** (:func:`fold_batchnorm`): a BatchNorm that follows a Dense or
    convolution layer (without activation in between) is an affine map
    after an affine map, so the two combine into one layer with
    :math:`W' = \\mathrm{diag}(a) W`, :math:`b' = a \\odot b + c`, where
    :math:`a = \\gamma / \\sqrt{\\bar\\sigma^2 + \\epsilon}`,
    :math:`c = \\beta - a \\odot \\bar\\mu`; the BatchNorm disappears.

(a) and (b) estimate the same quantities and differ only by estimation
noise and by (a) averaging over the last ~``1 / momentum`` batches of
*training* (weights still moving); (c) is exact for whichever statistics the
layer uses.
"""

from __future__ import annotations

import copy

import numpy as np

from .._validation import (
    as_float_array,
    check_rng,
    in_range,
    positive,
    positive_int,
)
from ..functional import batchnorm as F
from ._util import ensure_built
from ._weighted import WeightedLayer
from .base import Layer
from .container import Chain, walk
from .dense import TiedDense

__all__ = [
    "BatchNorm",
    "BatchNormalization",
    "estimate_population_statistics",
    "fold_batchnorm",
]

_STATISTICS = ("running", "population")


def _per_feature(v: np.ndarray, ndim: int) -> np.ndarray:
    """``(C,)`` -> ``(1, C)``, ``(1, C, 1)`` or ``(1, C, 1, 1)`` for broadcasting."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


class BatchNorm(Layer):
    """Batch normalization, per feature of ``(N, D)`` or per channel of
    ``(N, C, L)`` / ``(N, C, H, W)``.

    Parameters
    ----------
    momentum : float in [0, 1]
        PyTorch's convention: ``running = (1 - momentum) * running +
        momentum * batch`` (Keras's ``momentum=0.99`` is our ``0.01``).
    eps : float, > 0
        Added to the variance before the square root.
    inference_statistics : {'running', 'population'}
        What ``forward(x, training=False)`` normalises with; ``'population'``
        needs :func:`estimate_population_statistics` first (which switches
        to it).
    dtype : optional
        Parameter dtype; ``None`` takes the dtype of the first input.

    Attributes
    ----------
    params : ``{"gamma": (C,), "beta": (C,)}``, initialised to 1 and 0.
    buffers : ``{"running_mean": (C,), "running_var": (C,)}``
        Not trained by the optimizer; saved and restored with the weights.
    population_mean, population_var : ndarray (C,) or None
        The lecture's estimates, once computed.
    """

    def __init__(
        self,
        momentum: float = 0.1,
        eps: float = 1e-5,
        inference_statistics: str = "running",
        dtype=None,
    ):
        super().__init__()
        self.momentum = in_range(momentum, "momentum", 0.0, 1.0)
        self.eps = positive(eps, "eps")
        self.inference_statistics = inference_statistics
        self.dtype = None if dtype is None else np.dtype(dtype)
        self.buffers: dict[str, np.ndarray] = {}
        self.population_mean = None
        self.population_var = None
        self._collected = None  # list of (mean, var, m) while estimating (b)
        self._cache = None

    @property
    def inference_statistics(self) -> str:
        return self._inference_statistics

    @inference_statistics.setter
    def inference_statistics(self, value: str) -> None:
        if value not in _STATISTICS:
            raise ValueError(
                f"inference_statistics must be one of {list(_STATISTICS)}, got "
                f"{value!r}"
            )
        self._inference_statistics = value

    def build(self, input_shape: tuple, rng=None) -> None:
        if len(input_shape) not in (1, 2, 3):
            raise ValueError(
                "x must be a 2-D (N, D), 3-D (N, C, L) or 4-D (N, C, H, W) array for "
                "BatchNorm, got an input of shape "
                f"(N, {', '.join(map(str, input_shape))})"
            )
        dtype = self.dtype or np.dtype(np.float64)
        c = input_shape[0]
        self.params = {"gamma": np.ones(c, dtype), "beta": np.zeros(c, dtype)}
        self.grads = {"gamma": np.zeros(c, dtype), "beta": np.zeros(c, dtype)}
        self.buffers = {
            "running_mean": np.zeros(c, dtype),
            "running_var": np.ones(c, dtype),
        }
        self.input_shape = tuple(input_shape)
        self.built = True

    def statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """The ``(mean, var)`` used at inference (see ``inference_statistics``)."""
        if self.inference_statistics == "running":
            return self.buffers["running_mean"], self.buffers["running_var"]
        if self.population_mean is None:
            raise ValueError(
                "inference_statistics is 'population' but no population statistics "
                "were estimated; call estimate_population_statistics(model, x_train)"
            )
        return self.population_mean, self.population_var

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        x = as_float_array(x, "x")
        ensure_built(self, x)
        gamma, beta = self.params["gamma"], self.params["beta"]
        if training or self._collected is not None:
            out, cache = F.batchnorm_forward(x, gamma, beta, self.eps)
            if self._collected is not None:  # estimating population statistics
                self._collected.append((cache.mean, cache.var, cache.m))
            else:
                self._update_running_statistics(cache)
            self._cache = ("batch", cache)
            return out
        mean, var = self.statistics()
        out = F.batchnorm_inference(x, gamma, beta, mean, var, self.eps)
        self._cache = ("fixed", x, mean, var)
        return out

    def _update_running_statistics(self, cache) -> None:
        if cache.m < 2:
            raise ValueError(
                "BatchNorm in training mode needs more than one value per feature "
                f"(m = N for (N, D), N*H*W for images), got m = {cache.m}"
            )
        unbiased = cache.var * (cache.m / (cache.m - 1))
        mom = self.momentum
        running_mean, running_var = (
            self.buffers["running_mean"],
            self.buffers["running_var"],
        )
        running_mean[...] = (1 - mom) * running_mean + mom * cache.mean
        running_var[...] = (1 - mom) * running_var + mom * unbiased

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError("BatchNorm.backward called before forward")
        dout = as_float_array(dout, "dout")
        if self._cache[0] == "batch":
            dx, dgamma, dbeta = F.batchnorm_backward(dout, self._cache[1])
        else:
            dx, dgamma, dbeta = self._fixed_backward(dout)
        self.grads["gamma"][...] = dgamma
        self.grads["beta"][...] = dbeta
        return dx

    def _fixed_backward(self, dout):
        """Backward of the inference map ``y = a x + c`` (statistics fixed).

        With :math:`\\hat x = (x - \\bar\\mu)/\\sqrt{\\bar\\sigma^2 + \\epsilon}`:
        :math:`\\partial J/\\partial x = g\\, \\gamma / \\sqrt{\\bar\\sigma^2 +
        \\epsilon}`, :math:`\\partial J/\\partial\\gamma = \\sum g \\hat x`,
        :math:`\\partial J/\\partial\\beta = \\sum g` (sums over every axis but
        the feature axis). Used to fine-tune with frozen statistics.
        """
        _, x, mean, var = self._cache
        if dout.shape != x.shape:
            raise ValueError(f"dout must have shape {x.shape}, got {dout.shape}")
        gamma = self.params["gamma"].astype(x.dtype, copy=False)
        inv_std = (1 / np.sqrt(var + self.eps)).astype(x.dtype, copy=False)
        axes = (0, *range(2, x.ndim))
        x_hat = (x - _per_feature(mean.astype(x.dtype), x.ndim)) * _per_feature(
            inv_std, x.ndim
        )
        dx = dout * _per_feature(gamma * inv_std, x.ndim)
        return dx, np.sum(dout * x_hat, axis=axes), np.sum(dout, axis=axes)

    def __repr__(self) -> str:
        return f"BatchNorm(momentum={self.momentum!r}, eps={self.eps!r})"


#: Keras's name. Note the momentum convention: Keras's 0.99 is our 0.01.
BatchNormalization = BatchNorm


def _batchnorms(model) -> list[BatchNorm]:
    layers = [model, *walk(model)] if isinstance(model, Layer) else list(model)
    return [layer for layer in layers if isinstance(layer, BatchNorm)]


def estimate_population_statistics(
    model, x, batch_size: int = 64, n_batches: int = 200, rng=0, use: bool = True
) -> list[BatchNorm]:
    """The lecture's inference statistics for every BatchNorm in ``model``.

    With the learnt parameters fixed, ``n_batches`` random mini-batches of
    ``batch_size`` examples (each drawn without replacement) are passed
    through the model. Every BatchNorm normalises each of them with that
    batch's own statistics, exactly as in training (so the layers after it
    see what they saw in training), and records :math:`\\mu_B` and the
    biased :math:`\\sigma_B^2`; the running averages are left untouched and
    dropout is off. Then

    .. math::

        \\bar\\mu = E[\\mu_B], \\qquad
        \\bar\\sigma^2 = \\frac{m}{m - 1} E[\\sigma_B^2],

    the expectation being the average over the batches and :math:`m` the
    number of values per feature in a batch (``batch_size``, or
    ``batch_size * H * W`` after a convolution). The factor
    :math:`m / (m - 1)` makes the variance estimate unbiased: the batch
    variance divides by :math:`m` around the batch's own mean, which is
    :math:`(m - 1)/m` times the population variance on average.

    Parameters
    ----------
    model : Layer (e.g. Sequential) or list of layers
        Built and trained.
    x : ndarray
        Training inputs, ``(N, ...)`` with ``N >= batch_size``.
    batch_size : int
        :math:`m`, ideally the training batch size.
    n_batches : int
        Number of random mini-batches averaged.
    rng : numpy.random.Generator or int
        Draws the mini-batches.
    use : bool
        Switch each BatchNorm's ``inference_statistics`` to ``'population'``.

    Returns
    -------
    list of BatchNorm
        The layers updated (their ``population_mean`` / ``population_var``).
    """
    x = as_float_array(x, "x")
    batch_size = positive_int(batch_size, "batch_size")
    n_batches = positive_int(n_batches, "n_batches")
    rng = check_rng(rng)
    if x.shape[0] < batch_size:
        raise ValueError(
            f"x must hold at least batch_size={batch_size} examples, got {x.shape[0]}"
        )
    forward = model.forward if isinstance(model, Layer) else None
    if forward is None:
        raise TypeError(
            f"model must be a Layer (e.g. Sequential), got {type(model).__name__}"
        )
    norms = _batchnorms(model)
    if not norms:
        raise ValueError("model has no BatchNorm layer")
    for bn in norms:
        bn._collected = []
    try:
        for _ in range(n_batches):
            index = rng.choice(x.shape[0], size=batch_size, replace=False)
            forward(x[index], training=False)
        for bn in norms:
            if not bn._collected:
                raise ValueError(f"{bn!r} was not reached by the forward pass")
            means = np.stack([mean for mean, _, _ in bn._collected])
            variances = np.stack([var for _, var, _ in bn._collected])
            m = bn._collected[0][2]
            if m < 2:
                raise ValueError(
                    "population statistics need m >= 2 values per feature per batch, "
                    f"got m = {m}"
                )
            dtype = bn.params["gamma"].dtype
            bn.population_mean = means.mean(axis=0).astype(dtype)
            bn.population_var = (m / (m - 1) * variances.mean(axis=0)).astype(dtype)
            if use:
                bn.inference_statistics = "population"
    finally:
        for bn in norms:
            bn._collected = None
    return norms


def _fold_into(affine: WeightedLayer, bn: BatchNorm) -> None:
    """Fold ``bn`` into the preceding ``affine`` layer in place."""
    mean, var = bn.statistics()
    scale, shift = F.batchnorm_affine(
        bn.params["gamma"], bn.params["beta"], mean, var, bn.eps
    )
    W = affine.params["W"]
    W *= scale.reshape((-1,) + (1,) * (W.ndim - 1)).astype(W.dtype)
    if affine.use_bias:
        b = affine.params["b"]
        b[...] = scale * b + shift
    else:
        affine.use_bias = True
        affine.params["b"] = shift.astype(W.dtype)
        affine.grads["b"] = np.zeros_like(affine.params["b"])


def _fold_chain(chain: Chain, tied_encoders: set[int]) -> None:
    folded: list[Layer] = []
    for position, layer in enumerate(chain.layers):
        if isinstance(layer, BatchNorm):
            previous = folded[-1] if folded else None
            where = f"BatchNorm at position {position} of {type(chain).__name__}"
            if not isinstance(previous, WeightedLayer) or isinstance(
                previous, TiedDense
            ):
                raise ValueError(
                    f"cannot fold the {where}: it must directly follow a Dense, "
                    f"Conv1D or Conv2D layer, got {previous!r}"
                )
            if previous.activation is not None:
                raise ValueError(
                    f"cannot fold the {where}: the layer before it, {previous!r}, "
                    "applies an activation first; fold needs activation=None there "
                    "(put the activation after the BatchNorm)"
                )
            if id(previous) in tied_encoders:
                raise ValueError(
                    f"cannot fold the {where}: {previous!r} shares its weights "
                    "with a TiedDense decoder"
                )
            _fold_into(previous, bn=layer)
            continue
        if isinstance(layer, Chain):
            _fold_chain(layer, tied_encoders)
        folded.append(layer)
    chain.layers = folded
    if chain.built:
        chain._collect_parameters()
        chain.output_shapes = _output_shapes(chain)


def _output_shapes(chain: Chain) -> list[tuple]:
    shape = chain.input_shape
    shapes = []
    for layer in chain.layers:
        probe = np.zeros((1, *shape), chain.dtype)
        shape = tuple(layer.forward(probe, training=False).shape[1:])
        shapes.append(shape)
    return shapes


def fold_batchnorm(model: Chain) -> Chain:
    """A copy of ``model`` with every BatchNorm folded into the layer before it.

    Each ``Dense``/``Conv1D``/``Conv2D`` (with ``activation=None``) followed
    by a BatchNorm becomes one layer computing the same inference function:

    .. math::

        a = \\frac{\\gamma}{\\sqrt{\\bar\\sigma^2 + \\epsilon}}, \\quad
        c = \\beta - a \\odot \\bar\\mu, \\qquad
        W' = \\mathrm{diag}(a)\\, W \\ (\\text{row / filter } j
        \\text{ scaled by } a_j), \\quad b' = a \\odot b + c,

    where :math:`\\bar\\mu, \\bar\\sigma^2` are the statistics the BatchNorm
    uses at inference (running averages or population estimates). The
    copy's ``predict`` equals the original's up to rounding (about 1e-12
    relative in float64). Blocks inside ``Residual`` are folded too.

    The original model is not modified. The copy keeps the loss and metrics
    of ``compile`` but no optimizer (compile it again to train it; its
    BatchNorm-free layers then train differently).

    Raises
    ------
    ValueError
        When a BatchNorm does not directly follow a Dense/Conv layer without
        activation (nothing affine to fold into).
    """
    if not isinstance(model, Chain):
        raise TypeError(
            f"model must be a Sequential (or Chain), got {type(model).__name__}"
        )
    if not model.built:
        raise ValueError("model must be built (and trained) before folding")
    optimizer = getattr(model, "optimizer", None)
    try:
        if optimizer is not None:
            model.optimizer = None
        folded = copy.deepcopy(model)
    finally:
        if optimizer is not None:
            model.optimizer = optimizer
    tied = {id(layer.tied_to) for layer in walk(folded) if isinstance(layer, TiedDense)}
    _fold_chain(folded, tied)
    return folded
