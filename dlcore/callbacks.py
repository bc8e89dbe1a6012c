"""Hooks into :meth:`dlcore.model.Sequential.fit`: History and EarlyStopping.

A callback receives ``set_model(model)`` once, then ``on_train_begin(logs)``,
``on_epoch_begin(epoch, logs)`` and ``on_epoch_end(epoch, logs)`` for each
epoch, and ``on_train_end(logs)``. ``logs`` is the dict of the epoch's
numbers (``{"loss": ..., "accuracy": ..., "val_loss": ...}``). Setting
``model.stop_training = True`` ends training after the current epoch.
"""

from __future__ import annotations

import math

import numpy as np

from ._validation import non_negative, non_negative_int

__all__ = ["Callback", "History", "EarlyStopping"]


class Callback:
    """Base class; every hook does nothing by default."""

    model = None

    def set_model(self, model) -> None:
        self.model = model

    def on_train_begin(self, logs=None) -> None:
        pass

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        pass

    def on_train_end(self, logs=None) -> None:
        pass


class History(Callback):
    """Records every epoch's logs; ``fit`` returns it (as Keras does).

    Attributes
    ----------
    history : dict[str, list[float]]
        One list per quantity, one entry per epoch, e.g.
        ``history.history["val_loss"]``.
    epoch : list[int]
        The epoch numbers (0-based).
    """

    def __init__(self):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None) -> None:
        self.history = {}
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))

    def __repr__(self) -> str:
        keys = ", ".join(self.history)
        return f"History({len(self.epoch)} epochs: {keys})"


class EarlyStopping(Callback):
    """Stop training when a monitored quantity has stopped improving.

    The lecture's recipe (002): watch the validation error, stop when it
    no longer decreases, and keep the parameters of the best epoch. The
    "patience" lets it get worse for a while before giving up, since
    validation curves are noisy.

    After each epoch: if the monitored value improved on the best so far
    by more than ``min_delta`` it becomes the best and the counter resets;
    otherwise the counter grows, and training stops once it reaches
    ``patience`` (so ``patience`` epochs in a row without improvement).
    This is Keras's ``EarlyStopping``.

    Parameters
    ----------
    monitor : str
        Key of the epoch logs, e.g. ``"val_loss"`` or ``"val_accuracy"``.
    min_delta : float, >= 0
        Smallest change that counts as an improvement.
    patience : int, >= 0
        Epochs without improvement before stopping.
    mode : {'auto', 'min', 'max'}
        Whether smaller or larger is better; ``'auto'`` picks ``'max'`` for
        accuracies and ``'min'`` otherwise.
    restore_best_weights : bool
        At the end of training put back the parameters (and BatchNorm
        statistics) of the best epoch (Keras 3 does this whether or not
        training was stopped early).
    baseline : float, optional
        Stop if the value does not beat this within ``patience`` epochs.
    start_from_epoch : int
        Epochs of warm-up before monitoring starts.

    Attributes
    ----------
    best : float
        Best value seen.
    best_epoch : int
        Epoch (0-based) of the best value.
    stopped_epoch : int
        Epoch after which training stopped (0 if it ran to the end).
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        mode: str = "auto",
        restore_best_weights: bool = False,
        baseline: float | None = None,
        start_from_epoch: int = 0,
    ):
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a str (a log key), got {monitor!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor = monitor
        self.min_delta = abs(non_negative(min_delta, "min_delta"))
        self.patience = non_negative_int(patience, "patience")
        self.restore_best_weights = bool(restore_best_weights)
        self.baseline = baseline
        self.start_from_epoch = non_negative_int(start_from_epoch, "start_from_epoch")
        if mode == "auto":
            mode = "max" if "acc" in monitor or monitor.endswith("auc") else "min"
        self.mode = mode
        self._reset()

    def _reset(self) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best_epoch = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights = None

    def _improves(self, value: float, reference: float) -> bool:
        if self.mode == "min":
            return value < reference - self.min_delta
        return value > reference + self.min_delta

    def on_train_begin(self, logs=None) -> None:
        self._reset()

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs = logs or {}
        if self.monitor not in logs:
            raise KeyError(
                f"EarlyStopping monitors {self.monitor!r}, which is not in the epoch "
                f"logs {sorted(logs)} (validation_data missing?)"
            )
        if epoch < self.start_from_epoch:
            return
        value = float(logs[self.monitor])
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if np.isfinite(value) and self._improves(value, self.best):
            self.best = value
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improves(value, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, "
            f"min_delta={self.min_delta}, mode={self.mode!r}, "
            f"restore_best_weights={self.restore_best_weights})"
        )
