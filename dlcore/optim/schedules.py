"""Learning-rate schedules: the rate for an epoch, to assign to ``opt.lr``."""

from __future__ import annotations

import math

from .._validation import in_range, non_negative, positive, positive_int

__all__ = ["step_decay", "exponential_decay"]


def step_decay(
    initial_lr: float, epoch: float, drop: float = 0.5, epochs_per_drop: int = 10
) -> float:
    r"""Learning rate that drops by a factor every few epochs.

    :math:`\gamma_e = \gamma_0 \cdot \text{drop}^{\lfloor e / k \rfloor}`
    with :math:`k` = ``epochs_per_drop``; use it as
    ``opt.lr = step_decay(0.1, epoch)`` at the start of each epoch.
    """
    initial_lr = positive(initial_lr, "initial_lr")
    epoch = non_negative(epoch, "epoch")
    drop = in_range(drop, "drop", 0.0, 1.0, low_open=True)
    epochs_per_drop = positive_int(epochs_per_drop, "epochs_per_drop")
    return initial_lr * drop ** math.floor(epoch / epochs_per_drop)


def exponential_decay(
    initial_lr: float, epoch: float, decay_rate: float = 0.96, decay_steps: float = 1
) -> float:
    r"""Learning rate decaying smoothly: :math:`\gamma_0 \cdot r^{e / s}`.

    :math:`r` = ``decay_rate`` in (0, 1], :math:`s` = ``decay_steps`` > 0
    (Keras's ``ExponentialDecay`` without staircase; with ``decay_rate =
    exp(-k)`` it is the :math:`\gamma_0 e^{-k e}` of CS231n).
    """
    initial_lr = positive(initial_lr, "initial_lr")
    epoch = non_negative(epoch, "epoch")
    decay_rate = in_range(decay_rate, "decay_rate", 0.0, 1.0, low_open=True)
    decay_steps = positive(decay_steps, "decay_steps")
    return initial_lr * decay_rate ** (epoch / decay_steps)
