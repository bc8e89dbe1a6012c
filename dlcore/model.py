"""``Sequential``: a stack of layers with Keras's compile / fit / evaluate / predict.

::

    from dlcore.layers import Dense
    from dlcore.model import Sequential, EarlyStopping

    model = Sequential([Dense(128, activation="relu", input_dim=64), Dense(10)])
    model.compile(loss="softmax_cross_entropy", optimizer="adam",
                  metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=20, batch_size=32,
                        validation_data=(x_val, y_val),
                        callbacks=[EarlyStopping(patience=3)])
    scores = model.predict(x_test)          # the last layer's output

One training step on a mini-batch ``(x, y)`` is exactly what the lectures
derive by hand:

1. forward pass, layer by layer (``training=True``: batch statistics in
   BatchNorm, fresh masks in Dropout);
2. ``loss, g = loss_fn(out, y)``: the value and its gradient with respect
   to the output (the ``1/N`` of the batch mean already in ``g``);
3. backward pass in reverse order; each layer stores the gradients of its
   parameters, including those of its regularization penalties;
4. ``optimizer.step(model.params, model.grads)`` updates every array in
   place, then the layers apply their constraints (max-norm, ...).

Classifiers. With ``loss="softmax_cross_entropy"`` the network ends in a
plain ``Dense(K)`` (no softmax), the labels are integers, and ``predict``
returns the *scores* (apply :func:`dlcore.functional.softmax_forward` for
probabilities; ``argmax`` of either gives the class). With
``loss="categorical_crossentropy"`` the last layer has
``activation="softmax"``, the targets are one-hot and ``predict`` returns
probabilities. In short: ``predict`` returns what the last layer outputs.

Randomness comes from ``Sequential(seed=...)``: the initial weights, the
dropout masks and the shuffling all derive from it (``fit(seed=...)``
overrides the shuffling), so a run is reproducible.
"""

from __future__ import annotations

import numpy as np

from . import losses as _losses
from . import optim as _optim
from . import progress
from ._validation import as_float_array, check_rng, non_negative_int, positive_int
from .callbacks import Callback, EarlyStopping, History
from .layers import Chain, estimate_population_statistics, fold_batchnorm

__all__ = [
    "Sequential",
    "EarlyStopping",
    "History",
    "Callback",
    "fold_batchnorm",
    "estimate_population_statistics",
    "accuracy",
]


def accuracy(y_pred, y_true) -> float:
    """Fraction of correct predictions, choosing the rule from the shapes (Keras).

    * ``y_pred`` ``(N, K)`` with ``K > 1`` and integer labels ``(N,)``:
      ``argmax(y_pred) == y_true`` (scores or probabilities alike);
    * ``y_pred`` and one-hot ``y_true`` both ``(N, K)``: the argmaxes agree;
    * ``y_pred`` ``(N,)`` or ``(N, 1)``: binary, ``y_pred > 0.5`` against
      ``y_true`` (for sigmoid outputs; Keras's threshold).
    """
    y_pred = np.asarray(y_pred)
    y_true = np.asarray(y_true)
    if y_pred.ndim == 2 and y_pred.shape[1] > 1:
        predicted = np.argmax(y_pred, axis=1)
        if y_true.shape == y_pred.shape:
            return float(np.mean(predicted == np.argmax(y_true, axis=1)))
        if y_true.shape == (y_pred.shape[0],):
            return float(np.mean(predicted == y_true))
    elif y_pred.size == y_true.size and y_pred.shape[0] == y_true.shape[0]:
        predicted = (y_pred.reshape(-1) > 0.5).astype(np.float64)
        return float(np.mean(predicted == y_true.reshape(-1)))
    raise ValueError(
        "accuracy needs y_pred (N, K) with labels (N,) or one-hot (N, K), or "
        f"binary y_pred (N,)/(N, 1); got y_pred {y_pred.shape} and y_true "
        f"{y_true.shape}"
    )


_METRICS = {"accuracy": accuracy, "acc": accuracy}


def _metric(identifier):
    """``(name, function)`` for a metric given by name or as a function."""
    if isinstance(identifier, str):
        if identifier.lower() not in _METRICS:
            raise ValueError(
                f"metric must be one of {sorted(_METRICS)} or a function "
                f"(y_pred, y_true) -> float, got {identifier!r}"
            )
        return "accuracy", _METRICS[identifier.lower()]
    if callable(identifier):
        return getattr(identifier, "__name__", "metric"), identifier
    raise TypeError(f"metric must be a name or a function, got {identifier!r}")


def _loss_name(loss) -> str:
    return loss if isinstance(loss, str) else getattr(loss, "__name__", repr(loss))


class Sequential(Chain):
    """A linear stack of layers, trained Keras style.

    Parameters
    ----------
    layers : list of Layer, optional
        More can be appended with :meth:`add`.
    seed : int or numpy.random.Generator
        Source of every random number the model draws (initial weights,
        dropout masks, shuffling). Default 0.

    Attributes
    ----------
    params, grads : dict[str, ndarray]
        Every trainable array of every layer under ``"<index>.<name>"`` keys
        (views, not copies: see :class:`~dlcore.layers.Chain`).
    optimizer, loss_fn, metrics
        Set by :meth:`compile`.
    stop_training : bool
        A callback sets it to end :meth:`fit` after the current epoch.
    history : History
        Of the last :meth:`fit`.
    """

    def __init__(self, layers=None, seed=0):
        super().__init__(layers, seed=seed)
        self.optimizer = None
        self.loss = None
        self.loss_fn = None
        self.metrics: list[tuple[str, object]] = []
        self.stop_training = False
        self.history = None

    # ------------------------------------------------------------- set up
    def compile(self, loss, optimizer="adam", metrics=None) -> None:
        """Choose the loss, the optimizer and the reported metrics.

        Parameters
        ----------
        loss : str or callable
            A :mod:`dlcore.losses` name (``"softmax_cross_entropy"``,
            ``"mse"``, ...) or a function ``(y_pred, y_true) -> (value,
            dy_pred)``.
        optimizer : str or Optimizer
            A :mod:`dlcore.optim` name (PyTorch's defaults) or an instance,
            e.g. ``SGD(lr=0.1, momentum=0.9)``.
        metrics : list, optional
            ``"accuracy"`` and/or functions ``(y_pred, y_true) -> float``.
        """
        self.loss_fn = _losses.get(loss)
        self.loss = _loss_name(loss)
        self.optimizer = _optim.get(optimizer)
        if metrics is None:
            metrics = []
        if isinstance(metrics, str) or callable(metrics):
            metrics = [metrics]
        self.metrics = [_metric(m) for m in metrics]

    def build(self, input_shape=None, rng=None) -> None:
        """Build for inputs ``(N, *input_shape)``; by default the shape the first
        layer declares (``input_dim=`` / ``input_shape=``)."""
        if input_shape is None:
            input_shape = (
                getattr(self.layers[0], "input_shape", None) if self.layers else None
            )
            if input_shape is None:
                raise ValueError(
                    "input_shape is needed to build: give the first layer "
                    "input_dim=/input_shape=, pass build(input_shape) or fit on data"
                )
        super().build(tuple(input_shape), rng)

    def _build_for(self, x: np.ndarray) -> None:
        if not self.built:
            if self.dtype is None:
                self.dtype = x.dtype
            self.build(x.shape[1:])

    def parameters(self) -> dict[str, np.ndarray]:
        """The trainable arrays, ``{"0.W": ..., "0.b": ..., ...}`` (the live arrays)."""
        return self.params

    def _check_compiled(self, need_optimizer: bool = True) -> None:
        if self.loss_fn is None or (need_optimizer and self.optimizer is None):
            raise RuntimeError(
                "call compile(loss=..., optimizer=...) before training"
                if need_optimizer
                else "call compile(loss=...) before evaluate"
            )

    # ----------------------------------------------------------- training
    def _targets(self, y, out_dtype):
        y = np.asarray(y)
        if y.dtype.kind == "f":
            return y.astype(out_dtype, copy=False)
        return y

    def _loss_and_gradient(self, out, y):
        value, dout = self.loss_fn(out, self._targets(y, out.dtype))
        return float(value), np.asarray(dout).astype(out.dtype, copy=False)

    def train_on_batch(self, x, y) -> float:
        """One gradient step on ``(x, y)``; returns the loss before the step
        (data loss plus penalties)."""
        self._check_compiled()
        x = as_float_array(x, "x")
        self._build_for(x)
        return self._train_step(x, y)[0]

    def _train_step(self, x, y):
        out = self.forward(x, training=True)
        value, dout = self._loss_and_gradient(out, y)
        self.backward(dout)
        value += self.penalty()
        self.optimizer.step(self.params, self.grads)
        self.apply_constraints()
        return value, out

    def fit(
        self,
        x,
        y,
        epochs: int = 1,
        batch_size: int = 32,
        validation_data=None,
        callbacks=None,
        shuffle: bool = True,
        seed=None,
        verbose: int = 1,
    ) -> History:
        """Train for ``epochs`` passes over ``(x, y)`` in mini-batches.

        Parameters
        ----------
        x : ndarray (N, ...)
            Inputs; float32 input trains a float32 model.
        y : ndarray (N, ...)
            Targets in the form the loss expects (integer labels for
            ``softmax_cross_entropy``, one-hot for
            ``categorical_crossentropy``, values for ``mse``...).
        epochs : int
        batch_size : int
            The last batch of an epoch may be smaller.
        validation_data : (x_val, y_val), optional
            Evaluated after every epoch (inference mode), logged as
            ``val_loss``, ``val_accuracy``...
        callbacks : list of Callback, optional
            E.g. :class:`EarlyStopping`.
        shuffle : bool
            Visit the examples in a new random order each epoch.
        seed : int or Generator, optional
            For the shuffling; by default the model's own generator.
        verbose : int
            0 silent; 1 a progress bar over the epochs showing the latest
            numbers; 2 also a bar over the batches of each epoch. The bars
            come from ``tqdm.auto`` (widgets in Jupyter, text in a terminal)
            unless :mod:`dlcore.progress` asks for text or for none.

        Returns
        -------
        History
            ``history.history`` maps ``"loss"``, ``"accuracy"``,
            ``"val_loss"``, ``"val_accuracy"`` (as compiled) to one value
            per epoch. The training numbers are averages over the epoch's
            batches, measured in training mode as the weights moved (as in
            Keras), so they can differ from ``evaluate`` on the same data.
        """
        self._check_compiled()
        x, y = _examples_and_targets(x, y)
        epochs = non_negative_int(epochs, "epochs")
        batch_size = positive_int(batch_size, "batch_size")
        verbose = non_negative_int(verbose, "verbose")
        if validation_data is not None:
            if (
                not isinstance(validation_data, (tuple, list))
                or len(validation_data) != 2
            ):
                raise ValueError(
                    "validation_data must be a pair (x_val, y_val), got "
                    f"{type(validation_data).__name__}"
                )
        self._build_for(x)
        rng = self.generator if seed is None else check_rng(seed, "seed")
        callbacks = list(callbacks or [])
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback objects, got {cb!r}")
        history = History()
        callbacks = [history, *callbacks]
        for cb in callbacks:
            cb.set_model(self)
        self.stop_training = False
        for cb in callbacks:
            cb.on_train_begin()

        logs: dict[str, float] = {}
        bar = progress.bar(total=epochs, unit="epoch", disable=verbose == 0, desc="fit")
        try:
            for epoch in range(epochs):
                for cb in callbacks:
                    cb.on_epoch_begin(epoch)
                order = rng.permutation(len(x)) if shuffle else np.arange(len(x))
                logs = self._train_epoch(
                    x,
                    y,
                    order,
                    batch_size,
                    show=verbose >= 2,
                    desc=f"epoch {epoch + 1}",
                )
                if validation_data is not None:
                    val = self.evaluate(
                        *validation_data, batch_size=batch_size, return_dict=True
                    )
                    logs.update({f"val_{key}": value for key, value in val.items()})
                for cb in callbacks:
                    cb.on_epoch_end(epoch, logs)
                bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items()}, refresh=False)
                bar.update()
                if self.stop_training:
                    break
        finally:
            bar.close()
        for cb in callbacks:
            cb.on_train_end(logs)
        self.history = history
        return history

    def _train_epoch(self, x, y, order, batch_size, show, desc) -> dict[str, float]:
        """One pass over the examples in ``order``; the epoch's average numbers."""
        totals = {"loss": 0.0, **{name: 0.0 for name, _ in self.metrics}}
        starts = range(0, len(order), batch_size)
        for start in progress.bar(
            starts, leave=False, unit="batch", disable=not show, desc=desc
        ):
            index = order[start : start + batch_size]
            xb, yb = x[index], y[index]
            value, out = self._train_step(xb, yb)
            totals["loss"] += value * len(index)
            for name, metric in self.metrics:
                totals[name] += metric(out, yb) * len(index)
        return {key: total / len(order) for key, total in totals.items()}

    # ---------------------------------------------------------- inference
    def predict(self, x, batch_size: int | None = 256) -> np.ndarray:
        """The network's output for ``x`` at inference (``training=False``).

        That is scores for a classifier trained with
        ``softmax_cross_entropy``, probabilities when the last layer has a
        softmax (see the module docstring). Batched only to bound memory;
        ``batch_size=None`` runs everything at once.
        """
        x = as_float_array(x, "x")
        self._build_for(x)
        if batch_size is None or x.shape[0] <= batch_size:
            return self.forward(x, training=False)
        batch_size = positive_int(batch_size, "batch_size")
        outs = [
            self.forward(x[i : i + batch_size], training=False)
            for i in range(0, x.shape[0], batch_size)
        ]
        return np.concatenate(outs, axis=0)

    def evaluate(self, x, y, batch_size: int | None = 256, return_dict: bool = False):
        """Loss (plus penalties) and metrics on ``(x, y)`` at inference.

        Returns
        -------
        float, list or dict
            The loss alone when no metrics were compiled, else
            ``[loss, metric, ...]`` (Keras); a dict ``{"loss": ...,
            "accuracy": ...}`` with ``return_dict=True``.
        """
        self._check_compiled(need_optimizer=False)
        x, y = _examples_and_targets(x, y)
        self._build_for(x)
        n = x.shape[0]
        size = n if batch_size is None else positive_int(batch_size, "batch_size")
        totals = {"loss": 0.0, **{name: 0.0 for name, _ in self.metrics}}
        for start in range(0, n, size):
            xb, yb = x[start : start + size], y[start : start + size]
            out = self.forward(xb, training=False)
            value, _ = self._loss_and_gradient(out, yb)
            totals["loss"] += (value + self.penalty()) * len(xb)
            for name, metric in self.metrics:
                totals[name] += metric(out, yb) * len(xb)
        results = {key: total / n for key, total in totals.items()}
        if return_dict:
            return results
        if not self.metrics:
            return results["loss"]
        return list(results.values())

    # ------------------------------------------------------------ display
    def summary(self, print_fn=print) -> None:
        """Print each layer, its output shape and its number of parameters."""
        if not self.built:
            self.build()
        rows = [("Layer", "Output shape", "Param #")]
        seen: set[int] = set()
        for layer, shape in zip(self.layers, self.output_shapes, strict=True):
            count = 0
            for p in layer.params.values():
                if id(p) not in seen:
                    seen.add(id(p))
                    count += p.size
            rows.append((repr(layer).split("\n")[0], str((None, *shape)), str(count)))
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        line = "-" * (sum(widths) + 4)
        text = [f"{type(self).__name__} (seed={self.seed!r})", line]
        for i, row in enumerate(rows):
            text.append(
                f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}"
            )
            if i == 0:
                text.append(line)
        text += [line, f"Total params: {self.count_params()}"]
        print_fn("\n".join(text))


def _examples_and_targets(x, y) -> tuple[np.ndarray, np.ndarray]:
    """``x`` as a float array and ``y`` as an array, one target per example."""
    x = as_float_array(x, "x")
    y = np.asarray(y)
    if x.ndim < 1 or y.ndim < 1 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x and y must hold the same number of examples, got x {x.shape} "
            f"and y {y.shape}"
        )
    return x, y
