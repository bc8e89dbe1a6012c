"""Layer objects: parameters, Keras-style options and a forward/backward pair.

Every layer holds ``params`` and ``grads`` (dicts with the same keys),
offers ``forward(x, training=True)`` and ``backward(dout)``, and does its
math through :mod:`dlcore.functional` (one source of truth: the layers add
bookkeeping, not formulas). Layers build themselves on their first forward
pass, or when a model builds them (``Sequential.build``, ``fit``).

dtypes: a layer creates its parameters in the dtype of the first input it
sees (or its ``dtype=`` argument), so float32 data gives a float32 model,
float32 gradients and float32 optimizer state; a float64 model fed float32
(or the reverse) computes in the input's dtype, so the output and ``dx``
always have the dtype of ``x``.

Penalties: a layer's ``backward`` also adds the gradients of its own
regularizers (``kernel_regularizer=``, ``activity_regularizer=``...) and
its ``penalty()`` gives their value, which the model adds to the loss.

=================  ====================================================
``Dense``          ``act(x @ W.T + b)``, Keras's options
``Conv1D/2D``      cross-correlation layers, stride and padding
``MaxPool1D/2D``,  pooling (no parameters)
``AvgPool1D/2D``
``Flatten``        ``(N, C, H, W)`` -> ``(N, C*H*W)``
``BatchNorm``      training with batch statistics; inference three ways
``Dropout``        inverted dropout, identity at inference
``ReLU`` ...       activations; ``Activation(name)`` by name
``Chain``          layers in order (the base of ``Sequential``)
``Residual``       ``x + block(x)``
``TiedDense``      an autoencoder's decoder sharing the encoder's ``W``
=================  ====================================================
"""

from .activations import (
    ELU,
    Activation,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Sign,
    Softmax,
    Tanh,
    get_activation,
)
from .base import Layer
from .container import Chain, Residual, walk
from .conv import Conv1D, Conv2D
from .dense import Dense, TiedDense
from .dropout import Dropout
from .flatten import Flatten
from .normalization import (
    BatchNorm,
    BatchNormalization,
    estimate_population_statistics,
    fold_batchnorm,
)
from .pooling import AvgPool1D, AvgPool2D, MaxPool1D, MaxPool2D

# Keras's spellings, as in the lectures' code (``MaxPooling2D``).
MaxPooling1D = MaxPool1D
MaxPooling2D = MaxPool2D
AveragePooling1D = AvgPool1D
AveragePooling2D = AvgPool2D

__all__ = [
    "Layer",
    "Dense",
    "TiedDense",
    "Conv1D",
    "Conv2D",
    "MaxPool1D",
    "MaxPool2D",
    "AvgPool1D",
    "AvgPool2D",
    "MaxPooling1D",
    "MaxPooling2D",
    "AveragePooling1D",
    "AveragePooling2D",
    "Flatten",
    "BatchNorm",
    "BatchNormalization",
    "Dropout",
    "Activation",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "LeakyReLU",
    "ELU",
    "Softmax",
    "Sign",
    "get_activation",
    "Chain",
    "Residual",
    "walk",
    "estimate_population_statistics",
    "fold_batchnorm",
]
