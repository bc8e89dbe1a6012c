"""Forward and backward passes as plain functions (the CS231n ``layers.py`` style).

Every ``*_forward`` returns ``(out, cache)``; every ``*_backward(dout, cache)``
returns the gradients in the order of the forward's array inputs. The
docstrings give the shapes and the derivation; the convolution and pooling
loops run in :mod:`dlcore._kernels` so that the functions here read like
the math.

Caches. Each operation's cache is a small frozen dataclass of its own,
defined next to its forward, whose named fields are what the backward pass
needs: ``linear_forward`` returns a :class:`~.linear.LinearCache` with
fields ``x`` and ``W``, ``relu_forward`` a :class:`~.activations.ReluCache`
with ``positive`` (the mask ``x > 0``), ``batchnorm_forward`` a
:class:`~.batchnorm.BatchNormCache`, ``conv2d_forward`` a
:class:`~.conv.Conv2dCache`, and so on. A backward pass handed another
operation's cache raises a ``TypeError`` naming the type it expected. The
fields are for reading (a layer updates its running statistics from
``BatchNormCache.mean``); a cache is never changed after the forward pass.
"""

from .activations import (
    elu_backward,
    elu_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    sign_backward,
    sign_forward,
    softmax_backward,
    softmax_forward,
    tanh_backward,
    tanh_forward,
)
from .batchnorm import (
    batchnorm_affine,
    batchnorm_backward,
    batchnorm_backward_compact,
    batchnorm_forward,
    batchnorm_inference,
)
from .conv import conv1d_backward, conv1d_forward, conv2d_backward, conv2d_forward
from .dropout import dropout_backward, dropout_forward
from .linear import linear_backward, linear_forward
from .pooling import (
    avgpool1d_backward,
    avgpool1d_forward,
    avgpool2d_backward,
    avgpool2d_forward,
    maxpool1d_backward,
    maxpool1d_forward,
    maxpool2d_backward,
    maxpool2d_forward,
)

__all__ = [
    "avgpool1d_backward",
    "avgpool1d_forward",
    "avgpool2d_backward",
    "avgpool2d_forward",
    "batchnorm_affine",
    "batchnorm_backward",
    "batchnorm_backward_compact",
    "batchnorm_forward",
    "batchnorm_inference",
    "conv1d_backward",
    "conv1d_forward",
    "conv2d_backward",
    "conv2d_forward",
    "dropout_backward",
    "dropout_forward",
    "elu_backward",
    "elu_forward",
    "leaky_relu_backward",
    "leaky_relu_forward",
    "linear_backward",
    "linear_forward",
    "maxpool1d_backward",
    "maxpool1d_forward",
    "maxpool2d_backward",
    "maxpool2d_forward",
    "relu_backward",
    "relu_forward",
    "sigmoid_backward",
    "sigmoid_forward",
    "sign_backward",
    "sign_forward",
    "softmax_backward",
    "softmax_forward",
    "tanh_backward",
    "tanh_forward",
]
