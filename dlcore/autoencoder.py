"""Autoencoder building blocks from the lectures (000): tied weights, sparsity, noise.

* **Tied weights**: encode with :math:`W`, decode with :math:`W^T`
  (:math:`Z = f(WX + b)`, :math:`X' = f(W^T Z + b')`), the
  :class:`~dlcore.layers.TiedDense` layer; :func:`tied_autoencoder` builds
  the whole network.
* **Sparsity**: the KL penalty pushing each hidden unit's mean activation
  :math:`\\hat\\rho_j` towards a small :math:`\\rho`, with the lecture's
  extra term in the backward pass (:func:`kl_sparsity`,
  :class:`KLSparsity`).
* **Denoising**: the input is corrupted by zeroing randomly chosen
  components, the target stays clean (:func:`corrupt`,
  :class:`MaskingNoise`).

A sparse denoising autoencoder is then::

    model = tied_autoencoder(64, 100, sparsity=KLSparsity(rho=0.05, beta=0.1),
                             noise_rate=0.3, seed=0)
    model.compile(loss="mse", optimizer="adam")
    model.fit(x, x, epochs=50)
"""

from __future__ import annotations

import numpy as np

from ._validation import as_float_array, check_rng, in_range, non_negative, positive_int
from .layers import Dense, Dropout, TiedDense
from .model import Sequential

__all__ = [
    "kl_sparsity",
    "sparsity_delta",
    "KLSparsity",
    "corrupt",
    "MaskingNoise",
    "tied_autoencoder",
    "encode",
]


def _rho(rho) -> float:
    return in_range(rho, "rho", 0.0, 1.0, low_open=True, high_open=True)


def _clip_mean_activation(rho_hat: np.ndarray) -> np.ndarray:
    """Keep :math:`\\hat\\rho` strictly inside (0, 1), where the KL is finite.

    Only a unit that is exactly 0 (or exactly 1) for every example of the
    batch is affected; its penalty and gradient are then those at a
    distance of one machine epsilon from the boundary.
    """
    tiny = np.finfo(rho_hat.dtype).eps
    return np.clip(rho_hat, tiny, 1 - tiny)


def sparsity_delta(rho_hat, rho: float = 0.05, beta: float = 1.0) -> np.ndarray:
    """The lecture's extra term of the hidden layer's :math:`\\delta`.

    .. math::

        \\beta \\left( -\\frac{\\rho}{\\hat\\rho_j} +
        \\frac{1 - \\rho}{1 - \\hat\\rho_j} \\right)
        = \\beta\\, \\frac{\\partial}{\\partial \\hat\\rho_j}
        \\mathrm{KL}(\\rho \\,\\|\\, \\hat\\rho_j)

    It is added to :math:`\\sum_j w_{ij} \\delta_j^3` before multiplying by
    :math:`f'(\\eta_i^2)`. Negative when unit :math:`j` is less active than
    :math:`\\rho` (so gradient descent raises its activity), positive when
    it is more active, zero when :math:`\\hat\\rho_j = \\rho`.

    Parameters
    ----------
    rho_hat : ndarray (H,)
        Mean activation of each hidden unit, in (0, 1).
    rho : float in (0, 1)
        Target activation (the sparsity parameter, e.g. 0.05).
    beta : float >= 0
        Weight of the penalty.

    Returns
    -------
    ndarray (H,)
    """
    rho_hat = as_float_array(rho_hat, "rho_hat")
    rho = _rho(rho)
    beta = non_negative(beta, "beta")
    if np.any((rho_hat <= 0) | (rho_hat >= 1)):
        raise ValueError(
            "rho_hat must lie strictly between 0 and 1 (mean sigmoid activations), "
            f"got values in [{rho_hat.min()}, {rho_hat.max()}]"
        )
    return beta * (-rho / rho_hat + (1 - rho) / (1 - rho_hat))


def kl_sparsity(hidden, rho: float = 0.05, beta: float = 1.0):
    """The sparse autoencoder's KL penalty and its gradient for the activations.

    For hidden activations :math:`y_{ij}` (example :math:`i`, unit
    :math:`j`, values in [0, 1] such as sigmoid outputs) of a batch of
    :math:`m` examples:

    .. math::

        \\hat\\rho_j = \\frac{1}{m} \\sum_{i=1}^m y_{ij}, \\qquad
        P = \\beta \\sum_j \\Big[ \\rho \\log\\frac{\\rho}{\\hat\\rho_j} +
        (1 - \\rho) \\log\\frac{1 - \\rho}{1 - \\hat\\rho_j} \\Big],

    .. math::

        \\frac{\\partial P}{\\partial y_{ij}} =
        \\frac{\\partial P}{\\partial \\hat\\rho_j}
        \\frac{\\partial \\hat\\rho_j}{\\partial y_{ij}} =
        \\frac{1}{m}\\, \\beta \\left( -\\frac{\\rho}{\\hat\\rho_j} +
        \\frac{1 - \\rho}{1 - \\hat\\rho_j} \\right).

    The bracket is the lecture's term (:func:`sparsity_delta`); the
    :math:`1/m` appears because our data losses are batch *means* (the
    lecture adds the term to each example's :math:`\\delta` and averages
    the weight gradient over the batch: the same thing). Every example gets
    the same gradient for unit :math:`j`. The lecture computes
    :math:`\\hat\\rho` over the whole training set in a pass before each
    update; with mini-batches it is estimated on the batch.

    Parameters
    ----------
    hidden : ndarray (m, H)
        Activations, in [0, 1]; the mean is taken over the batch axis 0.
    rho : float in (0, 1)
    beta : float >= 0

    Returns
    -------
    value : float
    dhidden : ndarray, shape and dtype of ``hidden``
    """
    hidden = as_float_array(hidden, "hidden")
    if hidden.ndim < 1 or hidden.shape[0] == 0:
        raise ValueError(f"hidden must be a non-empty batch (m, H), got {hidden.shape}")
    if np.any((hidden < 0) | (hidden > 1)):
        raise ValueError(
            "hidden must hold activations in [0, 1] (e.g. sigmoid outputs), got "
            f"values in [{hidden.min()}, {hidden.max()}]"
        )
    rho = _rho(rho)
    beta = non_negative(beta, "beta")
    m = hidden.shape[0]
    rho_hat = _clip_mean_activation(hidden.mean(axis=0))
    kl = rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat))
    value = beta * float(np.sum(kl))
    delta = beta * (-rho / rho_hat + (1 - rho) / (1 - rho_hat))
    dhidden = np.broadcast_to(delta / m, hidden.shape).astype(hidden.dtype)
    return value, dhidden


class KLSparsity:
    """The KL sparsity penalty as an activity regularizer.

    ``Dense(100, activation="sigmoid", activity_regularizer=KLSparsity(0.05,
    3.0))`` adds :func:`kl_sparsity` of the layer's output to the loss, and
    its gradient to the upstream gradient at that output, before the
    activation's derivative: the lecture's
    :math:`\\delta_i^2 = (\\sum_j w_{ij}\\delta_j^3 + \\beta(\\dots))\\,
    f'(\\eta_i^2)`.

    Parameters
    ----------
    rho : float in (0, 1)
        Target mean activation.
    beta : float >= 0
        Weight of the penalty (relative to the batch-mean data loss).
    """

    def __init__(self, rho: float = 0.05, beta: float = 1.0):
        self.rho = _rho(rho)
        self.beta = non_negative(beta, "beta")

    def penalty(self, hidden) -> float:
        return kl_sparsity(hidden, self.rho, self.beta)[0]

    def gradient(self, hidden) -> np.ndarray:
        return kl_sparsity(hidden, self.rho, self.beta)[1]

    def __call__(self, hidden) -> float:
        return self.penalty(hidden)

    def __repr__(self) -> str:
        return f"KLSparsity(rho={self.rho!r}, beta={self.beta!r})"


def _masking(x: np.ndarray, rate: float, rng) -> np.ndarray:
    if rate == 0:
        return np.ones_like(x)
    # Drawn in float64 whatever x's dtype, so that a seed gives the same
    # mask for float32 and float64 inputs.
    return (rng.random(x.shape) >= rate).astype(x.dtype)


def corrupt(x, rate: float, rng) -> np.ndarray:
    """Masking noise for a denoising autoencoder: zero each component with
    probability ``rate``.

    Unlike dropout there is no rescaling of the kept components: the
    network must reconstruct the clean ``x`` from what is left, which
    forces it to use the dependences between components.

    Parameters
    ----------
    x : ndarray, any shape
    rate : float in [0, 1)
        Probability that a component is set to zero.
    rng : numpy.random.Generator or int

    Returns
    -------
    ndarray, shape and dtype of ``x`` (a new array)
    """
    x = as_float_array(x, "x")
    rate = in_range(rate, "rate", 0.0, 1.0, high_open=True)
    rng = check_rng(rng)
    return x * _masking(x, rate, rng)


class MaskingNoise(Dropout):
    """Corrupt the input in training (:func:`corrupt`), the identity at inference.

    Put it first in an autoencoder and fit with the clean data as target
    (``fit(x, x)``): each epoch sees freshly corrupted inputs.

    Parameters
    ----------
    rate : float in [0, 1)
        Probability of zeroing each component.
    seed : int or numpy.random.Generator, optional
        As for :class:`~dlcore.layers.Dropout`.
    """

    # Dropout's bookkeeping (seeding, inference = identity) with the
    # unscaled mask of corrupt() instead of inverted dropout's.
    def _training_forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mask = _masking(x, self.rate, self.rng)
        return x * mask, mask

    def _training_backward(self, dout: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return dout * mask


def tied_autoencoder(
    n_inputs: int,
    n_hidden: int,
    activation="sigmoid",
    output_activation="sigmoid",
    sparsity: KLSparsity | None = None,
    noise_rate: float = 0.0,
    kernel_initializer="glorot_uniform",
    seed=0,
) -> Sequential:
    """The lecture's autoencoder: ``[MaskingNoise] -> Dense(W) -> TiedDense(W^T)``.

    Parameters
    ----------
    n_inputs : int
        :math:`D`, the size of an input vector (and of the reconstruction).
    n_hidden : int
        Number of hidden units (fewer than ``n_inputs`` for a compressed
        code; any number with a sparsity penalty).
    activation, output_activation :
        :math:`f` of the hidden and of the output layer (sigmoid for data
        in [0, 1], as in the lecture).
    sparsity : KLSparsity, optional
        Penalty on the hidden activations (needs activations in [0, 1]).
    noise_rate : float
        With ``rate > 0`` a :class:`MaskingNoise` layer comes first (a
        denoising autoencoder).
    seed : int or Generator

    Returns
    -------
    Sequential
        Not compiled; train it with ``compile(loss="mse", ...)`` and
        ``fit(x, x)``. The encoder is ``model.layers[-2]`` (its ``W`` has
        shape ``(n_hidden, n_inputs)``).
    """
    n_inputs = positive_int(n_inputs, "n_inputs")
    n_hidden = positive_int(n_hidden, "n_hidden")
    noise_rate = in_range(noise_rate, "noise_rate", 0.0, 1.0, high_open=True)
    encoder = Dense(
        n_hidden,
        activation=activation,
        kernel_initializer=kernel_initializer,
        activity_regularizer=sparsity,
        input_dim=n_inputs,
    )
    decoder = TiedDense(encoder, activation=output_activation)
    layers = [encoder, decoder]
    if noise_rate > 0:
        layers.insert(0, MaskingNoise(noise_rate))
    model = Sequential(layers, seed=seed)
    model.build((n_inputs,))
    return model


def encode(autoencoder: Sequential, x) -> np.ndarray:
    """The hidden code of ``x``: every layer but the decoder, at inference.

    For layer-wise pretraining (lecture 000): the code of one autoencoder is
    the training data of the next.
    """
    x = as_float_array(x, "x")
    h = x
    for layer in autoencoder.layers[:-1]:
        h = layer.forward(h, training=False)
    return h
