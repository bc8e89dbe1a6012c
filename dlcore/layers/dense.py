"""The fully connected layer, and its weight-tied mirror for autoencoders."""

from __future__ import annotations

import numbers

import numpy as np

from .. import functional as F
from .._validation import positive_int
from ._weighted import WeightedLayer

__all__ = ["Dense", "TiedDense"]


def _declared_input_shape(input_dim, input_shape):
    """Keras lets the first layer declare its input: ``input_dim=14`` or
    ``input_shape=(14,)``."""
    if input_dim is not None and input_shape is not None:
        raise ValueError(
            f"give input_dim or input_shape, not both (got {input_dim!r} and "
            f"{input_shape!r})"
        )
    if input_dim is not None:
        return (positive_int(input_dim, "input_dim"),)
    if input_shape is not None:
        if isinstance(input_shape, numbers.Integral):
            input_shape = (input_shape,)
        return tuple(positive_int(d, "input_shape") for d in input_shape)
    return None


class Dense(WeightedLayer):
    """Fully connected layer, ``out = activation(x @ W.T + b)`` (Keras's ``Dense``).

    The lectures' :math:`\\mathbf{s} = W\\mathbf{x} + \\mathbf{b}` with one
    example per row; the math and its backward pass are
    :func:`dlcore.functional.linear_forward` / ``linear_backward``.

    Parameters
    ----------
    units : int
        Number of output units ``D_out``.
    activation : None, str or activation layer
        Applied to the scores (``"relu"``, ``"softmax"``, ...); ``None`` (or
        ``"linear"``) leaves them as they are.
    use_bias : bool
        Without a bias ``params`` holds only ``"W"`` (common before BatchNorm,
        whose ``beta`` takes the bias's role).
    kernel_initializer, bias_initializer : str or callable
        A :mod:`dlcore.init` name or a function ``(shape, rng) -> array``.
    kernel_regularizer, bias_regularizer : Regularizer, optional
        Penalties on ``W`` / ``b`` (:mod:`dlcore.regularizers`), their
        gradients added in :meth:`backward`, their value in :meth:`penalty`.
    activity_regularizer : Regularizer, optional
        A penalty on the layer's output (after the activation), e.g. the
        sparse autoencoder's :class:`dlcore.autoencoder.KLSparsity`.
    kernel_constraint, bias_constraint : callable, optional
        :mod:`dlcore.constraints`, applied after each optimizer step.
    input_dim, input_shape : int or tuple, optional
        Declare the input of a first layer, so that a model can be built
        (and summarised) before it sees data.
    seed : int or Generator, optional
        For the initializer when the layer is built on its own; a model
        passes its own generator instead. Defaults to 0.
    dtype : optional
        Parameter dtype; ``None`` takes the dtype of the first input.

    Every parameter after ``activation`` is a keyword argument; those from
    ``use_bias`` on are the options every weighted layer shares
    (:class:`~dlcore.layers._weighted.WeightedLayer`, also :class:`Conv1D`
    and :class:`Conv2D`).

    Shapes: ``x`` ``(N, D_in)`` -> ``out`` ``(N, units)``; ``W`` is
    ``(units, D_in)``, ``b`` is ``(units,)``.
    """

    def __init__(
        self,
        units: int,
        activation=None,
        *,
        input_dim=None,
        input_shape=None,
        **options,
    ):
        super().__init__(activation, **options)
        self.units = positive_int(units, "units")
        declared = _declared_input_shape(input_dim, input_shape)
        if declared is not None:
            self.input_shape = declared

    def _weight_shape(self, input_shape):
        if len(input_shape) != 1:
            raise ValueError(
                f"x must be a 2-D array (N, D_in) for Dense, got an input of shape "
                f"(N, {', '.join(map(str, input_shape))}); put a Flatten() first"
            )
        return (self.units, input_shape[0])

    def _linear_forward(self, x, W, b):
        return F.linear_forward(x, W, b)

    def _linear_backward(self, dout, cache):
        return F.linear_backward(dout, cache)

    def __repr__(self) -> str:
        return f"Dense({self.units}{self._options_repr()})"


class TiedDense(WeightedLayer):
    """The decoder of a tied-weight autoencoder: ``out = activation(h @ W + b')``.

    The lecture's autoencoder (000) encodes with :math:`W` and decodes with
    its transpose, :math:`Z = f(WX + b)`, :math:`X' = f(W^T Z + b')`. With
    ``encoder = Dense(n_hidden, ...)``, ``TiedDense(encoder)`` is that second
    layer: it holds the *same array* ``W`` (``params["W"] is
    encoder.params["W"]``) and its own bias ``b'`` of shape ``(D_in,)``.

    Backward pass: for ``out = h W + b'`` (``W`` of shape ``(H, D)``, so
    the decoder's dense weight is :math:`W^T`) the weight gradient is
    ``grads["W"] = h.T @ dout``, shape ``(H, D)``: the gradient of the
    decoder weight :math:`W^T` transposed back to ``W``'s layout.

    The full gradient of the shared ``W`` is the *sum* of the encoder's and
    the decoder's contributions (a weight used twice gets the sum of the
    gradients of both uses, as for the shared weights of a convolution).
    A :class:`~dlcore.layers.Chain` / ``Sequential`` holding both layers
    notices that the two ``params["W"]`` are one array, lists it once and
    adds the two gradients; with a hand-written training loop, step on
    ``encoder.grads["W"] + decoder.grads["W"]``.

    Regularizers and constraints of ``W`` belong to the encoder (they are
    applied once, there).

    Parameters
    ----------
    tied_to : Dense
        The encoder. It must be built before this layer (it is when it comes
        first in the same model).
    activation : None, str or activation layer
        The decoder's :math:`f` (e.g. ``"sigmoid"`` for inputs in [0, 1]).
    use_bias, bias_initializer, bias_regularizer, activity_regularizer,
    bias_constraint :
        As for :class:`Dense`, for the decoder's own bias.

    Shapes: ``h`` ``(N, H)`` with ``H = tied_to.units`` -> ``out``
    ``(N, D)``; ``W`` is the encoder's ``(H, D)``, ``b`` is ``(D,)``.
    """

    def __init__(
        self,
        tied_to: Dense,
        activation=None,
        use_bias: bool = True,
        bias_initializer="zeros",
        bias_regularizer=None,
        activity_regularizer=None,
        bias_constraint=None,
    ):
        if not isinstance(tied_to, Dense):
            raise TypeError(
                f"tied_to must be the encoder's Dense layer, got {tied_to!r} "
                f"({type(tied_to).__name__})"
            )
        super().__init__(
            activation=activation,
            use_bias=use_bias,
            bias_initializer=bias_initializer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            bias_constraint=bias_constraint,
        )
        self.tied_to = tied_to
        self.input_shape = (tied_to.units,)

    def build(self, input_shape: tuple, rng: np.random.Generator) -> None:
        encoder = self.tied_to
        if not encoder.built:
            raise ValueError(
                "TiedDense: its encoder (tied_to) must be built first; put the "
                "encoder before the decoder in the model, or call it once"
            )
        if tuple(input_shape) != (encoder.units,):
            raise ValueError(
                f"x must have shape (N, {encoder.units}) for TiedDense (the "
                f"encoder's units), got (N, {', '.join(map(str, input_shape))})"
            )
        W = encoder.params["W"]
        self.dtype = W.dtype
        self.params["W"] = W  # the same array: updates to it serve both layers
        self.grads["W"] = np.zeros_like(W)
        self._finish_build(input_shape, rng)

    def _bias_units(self) -> int:
        # The decoder maps back to the encoder's inputs: W's columns.
        return self.params["W"].shape[1]

    def _linear_forward(self, x, W, b):
        return F.linear_forward(x, W.T, b)

    def _linear_backward(self, dout, cache):
        dx, dW_transposed, db = F.linear_backward(dout, cache)
        return dx, dW_transposed.T, db

    def __repr__(self) -> str:
        return f"TiedDense(tied_to={self.tied_to!r}{self._options_repr()})"
