"""Sequential training, callbacks, regularizers and constraints, BatchNorm
inference three ways, and the autoencoder blocks."""

from __future__ import annotations

import numpy as np
import pytest

from dlcore import constraints, regularizers
from dlcore.autoencoder import (
    KLSparsity,
    MaskingNoise,
    corrupt,
    encode,
    kl_sparsity,
    sparsity_delta,
    tied_autoencoder,
)
from dlcore.callbacks import Callback
from dlcore.data import load_digits
from dlcore.gradcheck import check_gradients, numerical_gradient, rel_error
from dlcore.layers import (
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPool2D,
    ReLU,
    Residual,
)
from dlcore.model import (
    EarlyStopping,
    Sequential,
    estimate_population_statistics,
    fold_batchnorm,
)
from dlcore.optim import SGD, Adam


@pytest.fixture(scope="module")
def digits_flat():
    return load_digits(flat=True)


@pytest.fixture(scope="module")
def digits_images():
    return load_digits(flat=False)


def _test_accuracy(model, data) -> float:
    return float(np.mean(model.predict(data.x_test).argmax(axis=1) == data.y_test))


# ----------------------------------------------------------- training


def _train_and_validation(d):
    """scikit-learn's usual 1437-image training split (our train + validation)."""
    return np.concatenate([d.x_train, d.x_val]), np.concatenate([d.y_train, d.y_val])


def test_mlp_reaches_95_percent_on_digits(digits_flat):
    """Seeds 0-5 give 96.1-96.9 %; the bound leaves 4+ test digits of margin."""
    d = digits_flat
    x, y = _train_and_validation(d)
    model = Sequential([Dense(128, activation="relu", input_dim=64), Dense(10)], seed=0)
    model.compile(
        loss="softmax_cross_entropy", optimizer=Adam(lr=1e-3), metrics=["accuracy"]
    )
    history = model.fit(x, y, epochs=30, batch_size=32, verbose=0)
    acc = _test_accuracy(model, d)
    print(f"MLP test accuracy {acc:.3f}")
    assert acc >= 0.95
    assert history.history["loss"][-1] < history.history["loss"][0] / 5


def test_small_cnn_reaches_96_percent_on_digits(digits_images):
    """Seeds 0-5 give 97.8-98.1 %."""
    d = digits_images
    x, y = _train_and_validation(d)
    model = Sequential(
        [
            Conv2D(16, 3, padding="same", use_bias=False, input_shape=(1, 8, 8)),
            BatchNorm(),
            ReLU(),
            MaxPool2D(2),
            Conv2D(32, 3, padding="same", activation="relu"),
            MaxPool2D(2),
            Flatten(),
            Dense(10),
        ],
        seed=0,
    )
    model.compile(
        loss="softmax_cross_entropy", optimizer=Adam(lr=3e-3), metrics=["accuracy"]
    )
    model.fit(x, y, epochs=10, batch_size=32, verbose=0)
    acc = _test_accuracy(model, d)
    print(f"CNN test accuracy {acc:.3f}")
    assert acc >= 0.96


def test_fit_is_reproducible_from_the_seed(digits_flat):
    d = digits_flat

    def run(seed):
        model = Sequential(
            [Dense(16, activation="tanh"), Dropout(0.2), Dense(10)], seed=seed
        )
        model.compile(loss="softmax_cross_entropy", optimizer="adam")
        return model.fit(d.x_train[:200], d.y_train[:200], epochs=2, verbose=0).history[
            "loss"
        ]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_history_keys_and_lengths(digits_flat):
    d = digits_flat
    model = Sequential([Dense(8, activation="relu"), Dense(10)])
    model.compile(loss="softmax_cross_entropy", optimizer="adam", metrics=["accuracy"])
    history = model.fit(
        d.x_train[:100],
        d.y_train[:100],
        epochs=3,
        batch_size=16,
        validation_data=(d.x_val, d.y_val),
        verbose=0,
    )
    assert model.history is history
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 3 for v in history.history.values())
    assert history.epoch == [0, 1, 2]
    no_val = model.fit(d.x_train[:50], d.y_train[:50], epochs=1, verbose=0)
    assert set(no_val.history) == {"loss", "accuracy"}


def test_predict_and_evaluate_shapes(digits_flat):
    d = digits_flat
    model = Sequential([Dense(8, activation="relu", input_dim=64), Dense(10)])
    model.compile(loss="softmax_cross_entropy", optimizer="adam", metrics=["accuracy"])
    scores = model.predict(d.x_test, batch_size=100)
    assert scores.shape == (len(d.x_test), 10)
    np.testing.assert_allclose(scores, model.predict(d.x_test, batch_size=None))
    loss, acc = model.evaluate(d.x_test, d.y_test, batch_size=64)
    assert np.isfinite(loss) and 0.0 <= acc <= 1.0
    assert model.evaluate(d.x_test, d.y_test, return_dict=True) == pytest.approx(
        {"loss": loss, "accuracy": acc}
    )
    model.compile(loss="softmax_cross_entropy", optimizer="adam")
    assert isinstance(model.evaluate(d.x_test, d.y_test), float)


def test_regression_with_mse(rng):
    x = rng.uniform(-1, 1, (200, 1))
    y = np.sin(3 * x)
    model = Sequential([Dense(32, activation="tanh"), Dense(1)], seed=1)
    model.compile(loss="mse", optimizer=Adam(lr=1e-2))
    history = model.fit(x, y, epochs=60, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.01
    assert model.predict(x).shape == (200, 1)


def test_softmax_output_with_one_hot_targets(digits_flat):
    """The Keras way: a softmax layer, categorical_crossentropy, one-hot y;
    predict then returns probabilities."""
    d = digits_flat
    one_hot = np.eye(10)[d.y_train]
    model = Sequential([Dense(64, activation="relu"), Dense(10, activation="softmax")])
    model.compile(
        loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"]
    )
    history = model.fit(
        d.x_train,
        one_hot,
        epochs=10,
        verbose=0,
        validation_data=(d.x_val, np.eye(10)[d.y_val]),
    )
    assert history.history["val_accuracy"][-1] > 0.9
    probabilities = model.predict(d.x_test)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert _test_accuracy(model, d) > 0.9


def test_summary_lists_layers_and_counts(capsys):
    model = Sequential([Dense(4, input_dim=3), ReLU(), Dense(2)])
    model.summary()
    text = capsys.readouterr().out
    assert "Dense(4)" in text and "(None, 4)" in text
    assert "Total params: 26" in text  # 3*4+4 + 4*2+2


def test_compile_and_fit_argument_errors(digits_flat):
    d = digits_flat
    model = Sequential([Dense(10)])
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(d.x_train, d.y_train)
    with pytest.raises(ValueError, match="loss"):
        model.compile(loss="nope", optimizer="adam")
    with pytest.raises(ValueError, match="optimizer"):
        model.compile(loss="mse", optimizer="nope")
    with pytest.raises(ValueError, match="metric"):
        model.compile(loss="mse", optimizer="adam", metrics=["f1"])
    model.compile(loss="softmax_cross_entropy", optimizer="adam")
    with pytest.raises(ValueError, match="same number of examples"):
        model.fit(d.x_train, d.y_train[:-1])
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(d.x_train, d.y_train, batch_size=0)
    with pytest.raises(ValueError, match="labels"):
        model.fit(d.x_train, d.y_train + 5, verbose=0)


# ----------------------------------------------------------- EarlyStopping


class _FakeModel:
    """Just enough of a model for EarlyStopping: weights and a stop flag."""

    def __init__(self):
        self.weights = 0
        self.stop_training = False

    def get_weights(self):
        return self.weights

    def set_weights(self, weights):
        self.weights = weights


def _drive(callback, values, key="val_loss"):
    model = _FakeModel()
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, value in enumerate(values):
        model.weights = epoch  # "the weights after this epoch"
        callback.on_epoch_end(epoch, {key: value})
        if model.stop_training:
            break
    callback.on_train_end()
    return model, epoch


def test_early_stopping_waits_patience_epochs_then_restores_best():
    values = [1.0, 0.8, 0.85, 0.9, 0.7, 0.95, 0.96, 0.97, 0.98, 0.99]
    model, last = _drive(EarlyStopping(patience=3, restore_best_weights=True), values)
    # best 0.7 at epoch 4; three epochs without improvement -> stop after epoch 7
    assert last == 7
    assert model.weights == 4

    es = EarlyStopping(patience=3)
    model, last = _drive(es, values)
    assert last == 7 and es.stopped_epoch == 7 and es.best == 0.7 and es.best_epoch == 4
    assert model.weights == 7  # not restored


def test_early_stopping_min_delta_mode_and_missing_key():
    # improvements smaller than min_delta do not count
    _, last = _drive(EarlyStopping(patience=2, min_delta=0.05), [1.0, 0.99, 0.98, 0.97])
    assert last == 2
    # accuracies are maximised in mode "auto"
    es = EarlyStopping(monitor="val_accuracy", patience=1)
    _, last = _drive(es, [0.5, 0.6, 0.55, 0.7], key="val_accuracy")
    assert es.mode == "max" and last == 2
    with pytest.raises(KeyError, match="val_loss"):
        _drive(EarlyStopping(), [1.0], key="loss")


def test_early_stopping_in_fit_restores_the_best_epoch(digits_flat):
    d = digits_flat

    class Snapshots(Callback):
        def __init__(self):
            self.weights = []

        def on_epoch_end(self, epoch, logs=None):
            self.weights.append(self.model.get_weights())

    model = Sequential([Dense(16, activation="relu"), BatchNorm(), Dense(10)], seed=0)
    model.compile(loss="softmax_cross_entropy", optimizer=SGD(lr=0.05))
    snapshots = Snapshots()
    # min_delta so large that no epoch after the first counts as better
    stopper = EarlyStopping(
        monitor="loss", min_delta=100.0, patience=2, restore_best_weights=True
    )
    history = model.fit(
        d.x_train, d.y_train, epochs=20, verbose=0, callbacks=[snapshots, stopper]
    )
    assert len(history.epoch) == 3  # epoch 0 best, 1 and 2 not -> stop
    assert stopper.stopped_epoch == 2
    for restored, best in zip(model.get_weights(), snapshots.weights[0], strict=True):
        np.testing.assert_array_equal(restored, best)  # incl. BN running stats


# --------------------------------------------- regularizers and constraints


def test_penalty_gradients_by_finite_differences(rng):
    """Total loss = data loss + penalties; model.grads is its gradient."""
    model = Sequential(
        [
            Dense(
                5, activation="tanh", kernel_regularizer=regularizers.L1L2(0.01, 0.1)
            ),
            Dense(
                3,
                kernel_regularizer=regularizers.WeightDecay(0.3),
                bias_regularizer=regularizers.L2(0.2),
            ),
        ],
        seed=2,
    )
    model.compile(loss="softmax_cross_entropy", optimizer="sgd")
    x, y = rng.standard_normal((7, 4)), rng.integers(0, 3, 7)

    def total(_):
        value, _ = model.loss_fn(model.forward(x), y)
        return value + model.penalty()

    total(None)
    model.backward(model.loss_fn(model.forward(x), y)[1])
    for key, param in model.params.items():
        err = rel_error(model.grads[key], numerical_gradient(total, param, 1.0))
        print(key, f"{err:.1e}")
        assert err < 1e-7


def test_regularizer_values_and_gradients():
    W = np.array([[1.0, -2.0], [0.0, 3.0]])
    reg = regularizers.L1L2(l1=0.5, l2=0.25)
    assert reg.penalty(W) == pytest.approx(0.5 * 6 + 0.25 * 14)
    np.testing.assert_allclose(reg.gradient(W), 0.5 * np.sign(W) + 0.5 * W)
    wd = regularizers.WeightDecay(0.4)
    assert wd.penalty(W) == pytest.approx(0.2 * 14)
    np.testing.assert_allclose(wd.gradient(W), 0.4 * W)
    assert regularizers.get("l2").l2 == 0.01
    with pytest.raises(ValueError, match="l2"):
        regularizers.L2(-1.0)


def test_weight_decay_step_is_the_lectures_update(rng):
    """w <- (1 - eta*lambda) w - eta dL/dw for plain SGD."""
    lam, eta = 0.5, 0.1
    model = Sequential(
        [Dense(2, kernel_regularizer=regularizers.WeightDecay(lam))], seed=0
    )
    model.compile(loss="mse", optimizer=SGD(lr=eta))
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    model.build((3,))
    W0 = model.params["0.W"].copy()
    out = model.forward(x)
    _, g = model.loss_fn(out, y)
    data_grad = g.T @ x  # dL/dW of the data loss alone
    model.train_on_batch(x, y)
    np.testing.assert_allclose(
        model.params["0.W"], (1 - eta * lam) * W0 - eta * data_grad
    )


def test_l2_shrinks_and_l1_sparsifies_the_weights(digits_flat):
    d = digits_flat

    def trained_weights(reg):
        model = Sequential([Dense(10, kernel_regularizer=reg)], seed=0)
        model.compile(loss="softmax_cross_entropy", optimizer=Adam(lr=1e-2))
        model.fit(d.x_train, d.y_train, epochs=5, verbose=0)
        return model.params["0.W"]

    plain = trained_weights(None)
    l2 = trained_weights(regularizers.L2(0.01))
    l1 = trained_weights(regularizers.L1(0.01))
    assert np.linalg.norm(l2) < 0.7 * np.linalg.norm(plain)
    assert np.mean(np.abs(l1) < 1e-2) > np.mean(np.abs(plain) < 1e-2) + 0.2


def test_constraints_hold_after_every_step(digits_flat):
    d = digits_flat
    model = Sequential(
        [
            Dense(32, activation="relu", kernel_constraint=constraints.max_norm(0.5)),
            Dense(16, activation="relu", kernel_constraint=constraints.non_neg()),
            Dense(10, kernel_constraint=constraints.unit_norm()),
        ],
        seed=0,
    )
    model.compile(loss="softmax_cross_entropy", optimizer=Adam(lr=1e-2))
    model.fit(d.x_train, d.y_train, epochs=2, verbose=0)
    W1, W2, W3 = (model.params[f"{i}.W"] for i in range(3))
    assert np.linalg.norm(W1, axis=1).max() <= 0.5 + 1e-6  # one norm per unit (row)
    assert np.linalg.norm(W1, axis=1).max() > 0.49  # and it is active
    assert W2.min() >= 0
    np.testing.assert_allclose(np.linalg.norm(W3, axis=1), 1.0, rtol=1e-6)


def test_constraint_axes_in_our_layout():
    W = np.array([[3.0, 4.0], [0.3, 0.4]])  # rows = units: norms 5 and 0.5
    np.testing.assert_allclose(
        constraints.MaxNorm(1.0)(W), [[0.6, 0.8], [0.3, 0.4]], rtol=1e-6
    )
    np.testing.assert_allclose(
        constraints.UnitNorm()(W), [[0.6, 0.8], [0.6, 0.8]], rtol=1e-6
    )
    # an explicit axis is used as given: axis=0 normalises columns
    np.testing.assert_allclose(
        np.linalg.norm(constraints.UnitNorm(axis=0)(W), axis=0), 1.0, rtol=1e-6
    )
    filters = np.ones((2, 3, 2, 2))  # conv: one norm per filter over (C, KH, KW)
    np.testing.assert_allclose(
        np.sqrt((constraints.MaxNorm(2.0)(filters) ** 2).sum(axis=(1, 2, 3))), 2.0
    )
    np.testing.assert_array_equal(constraints.NonNeg()(W - 1), [[2.0, 3.0], [0, 0]])
    with pytest.raises(ValueError, match="max_value"):
        constraints.MaxNorm(0)


# ------------------------------------------- BatchNorm inference three ways


def test_population_statistics_follow_the_lecture_formula(rng):
    """E[mu_B] and m/(m-1) E[var_B] over the very mini-batches drawn."""
    x = rng.standard_normal((50, 3)) * [1.0, 2.0, 3.0] + [0.0, 1.0, -1.0]
    bn = BatchNorm()
    model = Sequential([bn])
    model.build((3,))
    estimate_population_statistics(model, x, batch_size=8, n_batches=20, rng=5)
    draw = np.random.default_rng(5)
    batches = [x[draw.choice(50, size=8, replace=False)] for _ in range(20)]
    np.testing.assert_allclose(
        bn.population_mean, np.mean([b.mean(0) for b in batches], 0)
    )
    np.testing.assert_allclose(
        bn.population_var, 8 / 7 * np.mean([b.var(0) for b in batches], 0)
    )
    assert bn.inference_statistics == "population"
    np.testing.assert_array_equal(bn.buffers["running_mean"], 0.0)  # untouched


@pytest.fixture(scope="module")
def trained_bn_model(digits_flat):
    d = digits_flat
    model = Sequential(
        [
            Dense(64, input_dim=64),
            BatchNorm(),
            ReLU(),
            Dense(64, use_bias=False),
            BatchNorm(),
            ReLU(),
            Dropout(0.1),
            Dense(10),
        ],
        seed=0,
    )
    model.compile(loss="softmax_cross_entropy", optimizer="adam", metrics=["accuracy"])
    model.fit(d.x_train, d.y_train, epochs=15, batch_size=32, verbose=0)
    return model


def test_batchnorm_inference_three_ways_agree(trained_bn_model, digits_flat):
    """(a) running averages, (b) population statistics, (c) folded weights.

    Expected agreement. (b) averages 500 batches with the final weights, so
    it is essentially exact. (a) is an exponential average (momentum 0.1,
    effective window ~19 batches of m = 32) of noisy batch statistics taken
    while the weights still moved: its mean has a standard deviation of
    about sqrt(0.1 / 1.9) / sqrt(32) = 0.04 sigma per feature and its
    variance a relative one of about 0.06 (near-Gaussian inputs), so over 64
    features we expect max |mean_a - mean_b| / sigma ~ 0.12 and
    max |log(var_a / var_b)| ~ 0.15. We allow 0.25 and 0.30 (5-6 standard
    deviations), which the predictions feel as a few percent of the scores:
    at least 97 % of the test digits get the same class and the accuracies
    differ by at most 2 points. (c) is not an estimate but algebra: the
    folded model equals the unfolded one to rounding (< 1e-10).
    """
    model, d = trained_bn_model, digits_flat
    norms = [layer for layer in model.layers if isinstance(layer, BatchNorm)]
    for bn in norms:
        bn.inference_statistics = "running"
    running = [
        (bn.buffers["running_mean"].copy(), bn.buffers["running_var"].copy())
        for bn in norms
    ]
    scores_a = model.predict(d.x_test)
    folded_a = fold_batchnorm(model)

    estimate_population_statistics(
        model, d.x_train, batch_size=32, n_batches=500, rng=0
    )
    scores_b = model.predict(d.x_test)
    folded_b = fold_batchnorm(model)

    for bn, (mean_a, var_a) in zip(norms, running, strict=True):
        sigma = np.sqrt(bn.population_var)
        mean_dev = np.max(np.abs(mean_a - bn.population_mean) / sigma)
        var_dev = np.max(np.abs(np.log(var_a / bn.population_var)))
        print(
            f"running vs population: mean {mean_dev:.3f} sigma, log var {var_dev:.3f}"
        )
        assert mean_dev < 0.25
        assert var_dev < 0.30

    same_class = np.mean(scores_a.argmax(1) == scores_b.argmax(1))
    acc_a = np.mean(scores_a.argmax(1) == d.y_test)
    acc_b = np.mean(scores_b.argmax(1) == d.y_test)
    print(f"same class {same_class:.3f}, accuracy {acc_a:.3f} vs {acc_b:.3f}")
    assert same_class >= 0.97
    assert abs(acc_a - acc_b) <= 0.02

    for folded, scores in ((folded_a, scores_a), (folded_b, scores_b)):
        assert not any(isinstance(layer, BatchNorm) for layer in folded.layers)
        err = np.max(np.abs(folded.predict(d.x_test) - scores)) / np.max(np.abs(scores))
        print(f"folded vs unfolded: {err:.1e}")
        assert err < 1e-10
    assert len(folded_b.layers) == len(model.layers) - 2
    assert "2.b" in folded_b.params  # the bias-free Dense got BN's shift as bias
    # the original is untouched and still trainable
    assert any(isinstance(layer, BatchNorm) for layer in model.layers)
    assert folded_b.evaluate(d.x_test, d.y_test, return_dict=True)["accuracy"] == acc_b


def test_fold_batchnorm_after_conv_and_inside_residual(rng):
    model = Sequential(
        [
            Conv2D(4, 3, padding=1, input_shape=(2, 6, 6)),
            BatchNorm(),
            ReLU(),
            Residual([Conv2D(4, 3, padding="same"), BatchNorm(), ReLU()]),
            Flatten(),
            Dense(3),
        ],
        seed=1,
    )
    model.compile(loss="softmax_cross_entropy", optimizer=Adam(lr=1e-2))
    x, y = rng.standard_normal((40, 2, 6, 6)), rng.integers(0, 3, 40)
    model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    folded = fold_batchnorm(model)
    assert len(folded.layers) == 5 and len(folded.layers[2].layers) == 2
    expected = model.predict(x)
    err = np.max(np.abs(folded.predict(x) - expected)) / np.max(np.abs(expected))
    assert err < 1e-10


def test_fold_batchnorm_refuses_a_non_affine_predecessor():
    model = Sequential([Dense(4, activation="relu", input_dim=3), BatchNorm()])
    model.build()
    with pytest.raises(ValueError, match="activation"):
        fold_batchnorm(model)
    first = Sequential([ReLU(), BatchNorm()])
    first.build((3,))
    with pytest.raises(ValueError, match="directly follow"):
        fold_batchnorm(first)


# ------------------------------------------------------------ autoencoder


def test_kl_sparsity_gradient_by_finite_differences(rng):
    hidden = rng.uniform(0.05, 0.95, (6, 4))

    def forward(h):
        value, dh = kl_sparsity(h, rho=0.1, beta=0.8)
        return np.array(value), dh

    def backward(dout, cache):
        return dout * cache

    errors = check_gradients(forward, backward, {"hidden": hidden})
    assert errors["hidden"] < 1e-7


def test_kl_sparsity_value_and_the_lectures_delta():
    hidden = np.array([[0.1, 0.5], [0.3, 0.5]])  # rho_hat = (0.2, 0.5)
    rho, beta = 0.05, 2.0
    value, dh = kl_sparsity(hidden, rho=rho, beta=beta)

    def kl(r):
        return rho * np.log(rho / r) + (1 - rho) * np.log((1 - rho) / (1 - r))

    assert value == pytest.approx(beta * (kl(0.2) + kl(0.5)))
    delta = sparsity_delta(np.array([0.2, 0.5]), rho, beta)
    np.testing.assert_allclose(delta, beta * np.array([-0.25 + 0.95 / 0.8, -0.1 + 1.9]))
    np.testing.assert_allclose(dh, np.broadcast_to(delta / 2, (2, 2)))
    assert sparsity_delta(np.array([rho]), rho, beta)[0] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="hidden"):
        kl_sparsity(np.array([[1.5]]))
    with pytest.raises(ValueError, match="rho"):
        kl_sparsity(hidden, rho=0.0)


def test_corruption_rate_statistics():
    x = np.ones((400, 500))
    noisy = corrupt(x, 0.3, np.random.default_rng(0))
    zeroed = np.mean(noisy == 0)
    sd = np.sqrt(0.3 * 0.7 / x.size)
    print(f"zeroed fraction {zeroed:.4f} (expected 0.3 +- {sd:.4f})")
    assert abs(zeroed - 0.3) < 5 * sd
    assert set(np.unique(noisy)) == {0.0, 1.0}  # kept entries are not rescaled
    per_row = np.mean(noisy == 0, axis=1)  # independent per component
    assert abs(per_row.std() - np.sqrt(0.3 * 0.7 / 500)) < 0.005
    np.testing.assert_array_equal(noisy, corrupt(x, 0.3, 0))
    assert corrupt(x.astype(np.float32), 0.3, 0).dtype == np.float32
    np.testing.assert_array_equal(corrupt(x, 0.0, 0), x)
    with pytest.raises(ValueError, match="rate"):
        corrupt(x, 1.0, 0)


def test_masking_noise_layer_is_identity_at_inference(rng):
    layer = MaskingNoise(0.5, seed=0)
    x = rng.standard_normal((3, 4))
    assert layer.forward(x, training=False) is x
    out = layer.forward(x, training=True)
    assert np.all((out == 0) | (out == x))


def test_sparse_denoising_tied_autoencoder_trains(digits_flat):
    d = digits_flat
    sparsity = KLSparsity(rho=0.1, beta=0.5)
    model = tied_autoencoder(64, 32, sparsity=sparsity, noise_rate=0.2, seed=0)
    encoder, decoder = model.layers[-2], model.layers[-1]
    assert decoder.params["W"] is encoder.params["W"]
    assert sorted(model.params) == ["1.W", "1.b", "2.b"]
    model.compile(loss="mse", optimizer=Adam(lr=1e-2))
    before = model.evaluate(d.x_val, d.x_val)
    mean_activation_before = encode(model, d.x_val).mean()
    model.fit(d.x_train, d.x_train, epochs=15, batch_size=32, verbose=0)
    after = model.evaluate(d.x_val, d.x_val)
    code = encode(model, d.x_val)
    print(
        f"loss {before:.4f} -> {after:.4f}; mean activation "
        f"{mean_activation_before:.3f} -> {code.mean():.3f}"
    )
    assert after < 0.5 * before
    assert code.shape == (len(d.x_val), 32)
    assert abs(code.mean() - 0.1) < abs(mean_activation_before - 0.1)


# --------------------------------------------------------------- float32


def test_float32_end_to_end_through_a_fit_step(digits_images):
    d = digits_images
    x = d.x_train[:64].astype(np.float32)
    model = Sequential(
        [
            Conv2D(4, 3, padding="same"),
            BatchNorm(),
            ReLU(),
            MaxPool2D(2),
            Dropout(0.2),
            Flatten(),
            Dense(
                10,
                kernel_regularizer=regularizers.L2(1e-3),
                kernel_constraint=constraints.max_norm(3.0),
            ),
        ],
        seed=0,
    )
    model.compile(loss="softmax_cross_entropy", optimizer="adam", metrics=["accuracy"])
    history = model.fit(x, d.y_train[:64], epochs=2, batch_size=16, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    for key, p in model.params.items():
        assert p.dtype == np.float32, key
        assert model.grads[key].dtype == np.float32, key
        for state in model.optimizer.state_of(p).values():
            if isinstance(state, np.ndarray):
                assert state.dtype == np.float32, key
    bn = model.layers[1]
    assert bn.buffers["running_var"].dtype == np.float32
    assert model.predict(x).dtype == np.float32
    assert model.forward(x).dtype == np.float32
    assert model.backward(np.ones((64, 10), np.float32)).dtype == np.float32
