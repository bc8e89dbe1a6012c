"""Plain stochastic gradient descent, with momentum and Nesterov momentum."""

from __future__ import annotations

import numpy as np

from .._validation import in_range, non_negative
from .base import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with (Nesterov) momentum.

    PyTorch's rule, with momentum :math:`\mu` and dampening :math:`\tau`:

    .. math::

        b_1 &= g_1, \qquad
        b_t = \mu b_{t-1} + (1 - \tau) g_t \quad (t > 1) \\
        \theta_t &= \theta_{t-1} - \gamma \, b_t
            \quad \text{(momentum)} \\
        \theta_t &= \theta_{t-1} - \gamma \, (g_t + \mu b_t)
            \quad \text{(Nesterov)}

    and :math:`\theta_t = \theta_{t-1} - \gamma g_t` without momentum.

    **Lecture notation.** In this paragraph :math:`\gamma` is the lectures'
    momentum (``momentum`` here) and :math:`\eta` their learning rate
    (``lr``). Lecture 002 writes momentum as
    :math:`v^{t+1} = \gamma v^t + \eta \nabla f(\theta^t)`,
    :math:`\theta^{t+1} = \theta^t - v^{t+1}`. With a constant learning
    rate this is the same trajectory: the velocity is
    :math:`v = \eta\, b` (PyTorch keeps the buffer without the learning rate,
    so changing ``lr`` mid-training rescales the whole step at once).

    Nesterov in the lectures evaluates the gradient at the look-ahead point:
    :math:`v^{t+1} = \gamma v^t + \eta \nabla f(\theta^t - \gamma v^t)`,
    :math:`\theta^{t+1} = \theta^t - v^{t+1}`. PyTorch (after Sutskever et al.
    2013) stores the look-ahead point itself, :math:`\phi = \theta -
    \gamma v`, as the parameter: substituting gives
    :math:`\phi^{t+1} = \phi^t - (1 + \gamma)\eta \nabla f(\phi^t) -
    \gamma^2 v^t`, which is the update above with :math:`v = \eta b`. So
    the parameters of ``SGD(nesterov=True)`` follow the lectures'
    :math:`\theta - \gamma v`, and only one gradient per step is needed.

    Parameters
    ----------
    lr : float
        Learning rate :math:`\gamma > 0` (PyTorch's default 1e-3; Keras's
        ``"sgd"`` uses 0.01).
    momentum : float
        :math:`\mu \ge 0`; 0 is plain gradient descent.
    dampening : float
        :math:`\tau \in [0, 1]`, scales the new gradient in the buffer.
    weight_decay : float
        L2 coefficient :math:`\lambda \ge 0`.
    nesterov : bool
        Nesterov momentum; needs ``momentum > 0`` and ``dampening == 0``.
    """

    def __init__(
        self,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ):
        super().__init__(lr, weight_decay)
        self.momentum = non_negative(momentum, "momentum")
        self.dampening = in_range(dampening, "dampening", 0.0, 1.0)
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"nesterov must be True or False, got {nesterov!r}")
        self.nesterov = bool(nesterov)
        if self.nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True needs momentum > 0, got momentum=0.0")
        if self.nesterov and self.dampening != 0.0:
            raise ValueError(
                f"nesterov=True needs dampening=0, got dampening={self.dampening}"
            )

    def _update(self, param, g, state):
        if self.momentum != 0.0:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = g.copy()
            else:
                buf = state["momentum_buffer"]
                buf *= self.momentum
                buf += (1.0 - self.dampening) * g
            buf = state["momentum_buffer"]
            g = g + self.momentum * buf if self.nesterov else buf
        param -= self.lr * g
