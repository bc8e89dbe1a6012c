"""What Dense, Conv1D and Conv2D share: ``act(linear(x; W, b))`` plus Keras's options.

Each of the three layers is a linear map with a weight ``W`` and a bias
``b`` (``linear_forward``, ``conv1d_forward`` or ``conv2d_forward``),
optionally followed by an activation, and accepts the same Keras options
(initializers, regularizers, constraints). This base class holds that
common part once; the subclasses only say how ``W`` is shaped and which
functional pair computes the map.

Penalties live with the parameters they penalise: :meth:`backward` adds the
gradient of every penalty of the layer (kernel, bias and activity
regularizers) to the gradients it stores, and :meth:`penalty` returns their
value, which the model adds to the loss. So a layer's gradients are those of

.. math::

    J = (\\text{whatever is downstream}) + \\Omega_W(W) + \\Omega_b(b)
        + \\Omega_a(\\text{out}),

the activity term being added to the upstream gradient at the layer's output
before it flows back through the activation (the lecture's sparse
autoencoder adds its KL term to :math:`\\delta` exactly there).
"""

from __future__ import annotations

import numpy as np

from .. import constraints as _constraints
from .. import regularizers as _regularizers
from .._validation import as_float_array
from ._util import ensure_built, initialize
from .activations import get_activation
from .base import Layer

_NO_CACHE = "backward called before forward"


class WeightedLayer(Layer):
    """Base class of the layers with a weight ``W`` and a bias ``b``.

    Subclasses implement :meth:`_weight_shape` and the pair
    :meth:`_linear_forward` / :meth:`_linear_backward`, and pass the Keras
    options they do not handle themselves on as keywords (``**options``);
    the options are documented once, on :class:`~dlcore.layers.Dense`.
    """

    def __init__(
        self,
        activation=None,
        *,
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        seed=None,
        dtype=None,
    ):
        super().__init__()
        self.activation = get_activation(activation)
        if not isinstance(use_bias, (bool, np.bool_)):
            raise TypeError(f"use_bias must be True or False, got {use_bias!r}")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer = _regularizers.get(kernel_regularizer)
        self.bias_regularizer = _regularizers.get(bias_regularizer)
        self.activity_regularizer = _regularizers.get(activity_regularizer)
        self.kernel_constraint = _constraints.get(kernel_constraint)
        self.bias_constraint = _constraints.get(bias_constraint)
        self.seed = seed
        self.dtype = None if dtype is None else np.dtype(dtype)
        self._cache = None
        self._out = None

    # -- to be provided by subclasses -----------------------------------
    def _weight_shape(self, input_shape: tuple) -> tuple:
        raise NotImplementedError

    def _linear_forward(self, x, W, b):
        raise NotImplementedError

    def _linear_backward(self, dout, cache):
        raise NotImplementedError

    # -------------------------------------------------------------------
    def build(self, input_shape: tuple, rng: np.random.Generator) -> None:
        dtype = self.dtype or np.dtype(np.float64)
        shape = self._weight_shape(tuple(input_shape))
        self.params["W"] = initialize(self.kernel_initializer, shape, rng, dtype)
        self.grads["W"] = np.zeros(shape, dtype)
        self._finish_build(input_shape, rng)

    def _bias_units(self) -> int:
        """The length of ``b``: one bias per output unit or filter, ``W``'s rows."""
        return self.params["W"].shape[0]

    def _finish_build(self, input_shape: tuple, rng: np.random.Generator) -> None:
        """Once ``W`` is in place: create ``b`` (if used) in its dtype, mark built."""
        dtype = self.params["W"].dtype
        if self.use_bias:
            shape = (self._bias_units(),)
            self.params["b"] = initialize(self.bias_initializer, shape, rng, dtype)
            self.grads["b"] = np.zeros(shape, dtype)
        self.input_shape = tuple(input_shape)
        self.built = True

    def _bias(self, dtype) -> np.ndarray:
        if self.use_bias:
            return self.params["b"].astype(dtype, copy=False)
        return np.zeros(self._bias_units(), dtype)

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        x = as_float_array(x, "x")
        ensure_built(self, x)
        W = self.params["W"].astype(x.dtype, copy=False)
        out, self._cache = self._linear_forward(x, W, self._bias(x.dtype))
        if self.activation is not None:
            out = self.activation.forward(out, training=training)
        self._out = out
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.{_NO_CACHE}")
        dout = as_float_array(dout, "dout")
        if self.activity_regularizer is not None:
            dout = dout + self.activity_regularizer.gradient(self._out)
        if self.activation is not None:
            dout = self.activation.backward(dout)
        dx, dW, db = self._linear_backward(dout, self._cache)
        self._store_gradients(dW, db)
        return dx

    def _store_gradients(self, dW, db) -> None:
        """Write ``dW``, ``db`` (plus penalty gradients) into ``grads`` in place."""
        self.grads["W"][...] = dW
        if self.kernel_regularizer is not None:
            self.grads["W"] += self.kernel_regularizer.gradient(self.params["W"])
        if self.use_bias:
            self.grads["b"][...] = db
            if self.bias_regularizer is not None:
                self.grads["b"] += self.bias_regularizer.gradient(self.params["b"])

    def penalty(self) -> float:
        """Sum of the layer's regularization terms (0.0 without regularizers).

        The activity term uses the output of the last :meth:`forward`.
        """
        value = 0.0
        if self.kernel_regularizer is not None and self.built:
            value += self.kernel_regularizer.penalty(self.params["W"])
        if self.bias_regularizer is not None and self.use_bias and self.built:
            value += self.bias_regularizer.penalty(self.params["b"])
        if self.activity_regularizer is not None and self._out is not None:
            value += self.activity_regularizer.penalty(self._out)
        return float(value)

    def apply_constraints(self) -> None:
        """Project ``W`` and ``b`` in place (called after each optimizer step)."""
        if self.kernel_constraint is not None:
            W = self.params["W"]
            W[...] = self.kernel_constraint(W)
        if self.bias_constraint is not None and self.use_bias:
            b = self.params["b"]
            b[...] = self.bias_constraint(b)

    def _options_repr(self) -> str:
        parts = []
        if self.activation is not None:
            parts.append(
                f"activation={getattr(self.activation, 'name', self.activation)!r}"
            )
        if not self.use_bias:
            parts.append("use_bias=False")
        for name in (
            "kernel_regularizer",
            "bias_regularizer",
            "activity_regularizer",
            "kernel_constraint",
            "bias_constraint",
        ):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value!r}")
        return "".join(", " + p for p in parts)
