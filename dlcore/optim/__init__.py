r"""Gradient-descent update rules, one class per rule, following ``torch.optim``.

Every optimizer is used the same way::

    opt = Adam(lr=1e-3)
    for batch in batches:
        ...                              # forward and backward fill grads
        opt.step(layer.params, layer.grads)

:meth:`Optimizer.step` updates the arrays of ``params`` *in place* (the
dict entries are never rebound, so a layer keeps pointing at its weights)
and never writes to ``grads``. Each rule keeps its running averages (the
"state") per parameter array, so one optimizer can serve every layer of a
model: two layers that both call their weight ``"W"`` still get separate
state, whether ``step`` is called once per layer or once with one dict that
holds every parameter.

Names, defaults and equations are those of ``torch.optim`` (PyTorch 2.x),
including where epsilon goes, so that each rule can be checked step by step
against PyTorch. Notation in the docstrings: :math:`\theta` parameters,
:math:`g_t` the gradient at step :math:`t = 1, 2, \dots` (after adding
:math:`\lambda \theta_{t-1}` when ``weight_decay`` :math:`\lambda` is set,
i.e. an L2 penalty :math:`\tfrac{\lambda}{2} \lVert\theta\rVert^2` on the
loss), :math:`\gamma` the learning rate ``lr``. All operations on arrays are
element-wise. Where the lectures (002) write a rule differently, the
docstring says how the two correspond.

The learning rate is a plain attribute: ``opt.lr = 0.01`` between epochs is
a schedule; :func:`step_decay` and :func:`exponential_decay` compute the two
common ones. :func:`get` turns a name such as ``"adam"`` into an optimizer
(``Sequential.compile(optimizer="adam")``).

One module per family: :mod:`.base` (:class:`Optimizer`), :mod:`.sgd`,
:mod:`.adaptive` (Adagrad, RMSprop, Adadelta), :mod:`.adam` (Adam, Adamax,
NAdam) and :mod:`.schedules`; every name is importable from
``dlcore.optim`` itself.
"""

from __future__ import annotations

from .._validation import by_name
from .adam import Adam, Adamax, NAdam
from .adaptive import Adadelta, Adagrad, RMSprop
from .base import Optimizer
from .schedules import exponential_decay, step_decay
from .sgd import SGD

__all__ = [
    "Optimizer",
    "SGD",
    "Adagrad",
    "RMSprop",
    "Adadelta",
    "Adam",
    "Adamax",
    "NAdam",
    "get",
    "step_decay",
    "exponential_decay",
]


_REGISTRY: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "adagrad": Adagrad,
    "rmsprop": RMSprop,
    "adadelta": Adadelta,
    "adam": Adam,
    "adamax": Adamax,
    "nadam": NAdam,
}


def get(identifier) -> Optimizer:
    """Return an optimizer from a name, a class or an instance.

    ``get("adam")`` is ``Adam()`` with PyTorch's defaults (so ``"sgd"`` has
    ``lr=1e-3``; pass ``SGD(lr=0.01)`` for Keras's default). Names are
    case-insensitive: ``"sgd"``, ``"adagrad"``, ``"rmsprop"``,
    ``"adadelta"``, ``"adam"``, ``"adamax"``, ``"nadam"``. An instance is
    returned as is, so its state carries over.
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, str):
        return by_name(_REGISTRY, identifier, "optimizer")()
    raise TypeError(
        "optimizer must be a name such as 'adam' or an Optimizer instance, "
        f"got {identifier!r} ({type(identifier).__name__})"
    )
