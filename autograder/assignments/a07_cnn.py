"""Graded checks of 07_cnn: parameter count, the LeNet (structure and accuracy),
the shift augmentation and per-layer gradient norms.

The network checks judge the student's object with a ``compare`` (no
element-wise reference): the architecture must satisfy a few constraints and
the trained network must reach a generous accuracy on held-out test images
(the visible and the hidden test use different random subsets of the test
set, which training never sees).
"""

from __future__ import annotations

import numpy as np

from autograder.checks import Check
from dlcore.data import load_digits
from dlcore.layers import Conv2D, Dense, Flatten, MaxPool2D, Residual, walk
from dlcore.losses import softmax_cross_entropy
from dlcore.model import Sequential

TARGET_ACCURACY = 0.90
MAX_PARAMS = 20_000

# ------------------------------------------------------------- parameters


def _count_inputs(rng):
    cases = np.column_stack(
        [
            rng.integers(1, 65, size=8),
            rng.integers(1, 65, size=8),
            rng.integers(1, 8, size=8),
        ]
    )
    cases[0] = (1, 6, 5)  # LeNet-5's first layer
    return {"cases": cases}


def _count_call(fn, cases):
    return np.array([fn(int(c), int(f), int(k)) for c, f, k in cases.tolist()])


def _count_reference(cases):
    counts = []
    for c, f, k in cases.tolist():
        layer = Conv2D(f, k)
        layer.build((c, k + 1, k + 1), np.random.default_rng(0))
        counts.append(sum(p.size for p in layer.params.values()))
    return np.array(counts)


# ---------------------------------------------------------------- LeNet


def _lenet_call(fn, x):
    model = fn(seed=0)
    if not isinstance(model, Sequential):
        raise TypeError(
            "build_lenet must return a dlcore.model.Sequential, got "
            f"{type(model).__name__}"
        )
    scores = model.predict(x)
    layers = list(walk(model))
    return {
        "n_conv": sum(isinstance(layer, Conv2D) for layer in layers),
        "n_pool": sum(isinstance(layer, MaxPool2D) for layer in layers),
        "scores_shape": np.shape(scores),
        "n_params": model.count_params(),
        "n_examples": len(x),
    }


def _lenet_compare(expected, summary):
    problems = []
    if summary["n_conv"] < 2:
        problems.append(
            f"at least two Conv2D layers expected, found {summary['n_conv']}"
        )
    if summary["n_pool"] < 1:
        problems.append("at least one MaxPool2D layer expected, found none")
    want = (summary["n_examples"], 10)
    if tuple(summary["scores_shape"]) != want:
        problems.append(
            f"scores of shape {want} expected for {summary['n_examples']} images "
            f"(N, 1, 8, 8), received shape {summary['scores_shape']}"
        )
    if summary["n_params"] >= MAX_PARAMS:
        problems.append(
            f"fewer than {MAX_PARAMS} parameters expected, the model has "
            f"{summary['n_params']}"
        )
    return "; ".join(problems) or None


def _held_out(rng):
    """A random subset of the test images (never used for training)."""
    data = load_digits()
    index = np.sort(rng.choice(len(data.y_test), size=300, replace=False))
    return {"x": data.x_test[index], "y": data.y_test[index]}


def _accuracy_call(model, x):
    """The classes ``model`` predicts; the labels never reach it."""
    if model is None:
        raise NotImplementedError(
            "lenet is None: implement build_lenet and train_lenet and run the "
            "training cell first"
        )
    if not hasattr(model, "predict"):
        raise TypeError(f"lenet must be the trained model, got {type(model).__name__}")
    scores = np.asarray(model.predict(x))
    if scores.shape != (len(x), 10):
        raise ValueError(
            f"the model must output scores of shape (N, 10), got {scores.shape}"
        )
    return np.argmax(scores, axis=1)


def _accuracy_compare(labels, predicted):
    """Scored by the grader: the labels are held out of the student's side."""
    predicted = np.asarray(predicted)
    if predicted.shape != labels.shape:
        return f"{labels.shape[0]} predicted classes expected, got {predicted.shape}"
    accuracy = float(np.mean(predicted == labels))
    if accuracy >= TARGET_ACCURACY:
        return None
    return (
        f"accuracy on held-out test images {accuracy:.3f}, at least "
        f"{TARGET_ACCURACY:.2f} expected"
    )


# ---------------------------------------------------------- augmentation


def _reference_shift(x, shifts):
    """Zero-filled integer shift, written differently from the notebook's
    slicing: pad by the image size on every side, then cut the window."""
    n_images, _, height, width = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (height, height), (width, width)))
    out = np.empty_like(x)
    for n in range(n_images):
        dy = int(np.clip(shifts[n, 0], -height, height))
        dx = int(np.clip(shifts[n, 1], -width, width))
        out[n] = padded[
            n, :, height - dy : 2 * height - dy, width - dx : 2 * width - dx
        ]
    return out


def _shift_inputs(rng):
    n, c = int(rng.integers(4, 8)), int(rng.integers(1, 3))
    height, width = (int(v) for v in rng.integers(5, 9, size=2))
    shifts = rng.integers(-3, 4, size=(n, 2))
    shifts[0] = (0, 0)
    shifts[1] = (2, -1)
    shifts[2] = (-height - 1, 0)  # the whole image leaves the frame
    return {"x": rng.random((n, c, height, width)), "shifts": shifts}


def _shift_call(fn, x, shifts):
    original = x.copy()
    out = fn(x, shifts)
    if not np.array_equal(x, original):
        raise ValueError("shift_images modified its input x; return a new array")
    return out


def _random_shift_inputs(rng):
    return {
        "x": rng.random((int(rng.integers(5, 10)), 1, 8, 8)),
        "max_shift": int(rng.integers(1, 3)),
        "rng": np.random.default_rng(int(rng.integers(2**31))),
    }


def _random_shift_reference(x, max_shift, rng):
    shifts = rng.integers(-max_shift, max_shift + 1, size=(len(x), 2))
    return _reference_shift(x, shifts)


# ------------------------------------------------------- gradient norms


def _norm_inputs(rng):
    depth = int(rng.integers(2, 5))
    layers = [Conv2D(4, 3, padding="same", activation="tanh")]
    for i in range(depth):
        conv = Conv2D(4, 3, padding="same", activation="sigmoid")
        layers.append(Residual(conv) if i % 2 else conv)  # plain and residual mixed
    model = Sequential([*layers, Flatten(), Dense(10)], seed=int(rng.integers(2**31)))
    n = int(rng.integers(4, 9))
    return {
        "model": model,
        "x": rng.random((n, 1, 6, 6)),
        "y": rng.integers(0, 10, size=n),
    }


def _norm_reference(model, x, y):
    scores = model.forward(x, training=True)
    _, dscores = softmax_cross_entropy(scores, y)
    model.backward(dscores)
    return np.array(
        [
            np.linalg.norm(layer.grads["W"])
            for layer in walk(model)
            if "W" in layer.params
        ]
    )


def _norm_call(fn, model, x, y):
    return np.asarray(fn(model, x, y), dtype=np.float64)


CHECKS = [
    Check(
        name="count_conv_params",
        points=1,
        make_inputs=_count_inputs,
        call=_count_call,
        reference=_count_reference,
        hint="F filters, each with C * K * K weights, plus one bias per filter.",
    ),
    Check(
        name="build_lenet",
        points=2,
        make_inputs=lambda rng: {"x": rng.random((5, 1, 8, 8))},
        call=_lenet_call,
        compare=_lenet_compare,
        hint=(
            "Sequential([Conv2D(8, 3, padding='same', activation='relu'), "
            "MaxPool2D(2), ..., Flatten(), Dense(10)], seed=seed); the last layer "
            "gives 10 scores."
        ),
    ),
    Check(
        name="lenet_accuracy",
        points=3,
        make_inputs=_held_out,
        call=_accuracy_call,
        reference=lambda x, y: y,  # the labels, kept by the grader
        compare=_accuracy_compare,
        held_out=("y",),
        hint=(
            "Compile with loss='softmax_cross_entropy' and e.g. Adam(lr=0.01); "
            "about 10 epochs with batches of 32 reach ~97 %. Train on x_train "
            "only."
        ),
    ),
    Check(
        name="shift_images",
        points=2,
        make_inputs=_shift_inputs,
        call=_shift_call,
        reference=_reference_shift,
        hint=(
            "out[n, :, i, j] = x[n, :, i - dy, j - dx] inside the image, 0 "
            "elsewhere: positive dy moves the content DOWN, positive dx RIGHT "
            "(np.roll wraps around: the border must be zeros instead). A shift "
            "as large as the image leaves only zeros."
        ),
    ),
    Check(
        name="random_shift",
        points=1,
        make_inputs=_random_shift_inputs,
        call=lambda fn, x, max_shift, rng: fn(x, max_shift, rng),
        reference=_random_shift_reference,
        hint=(
            "Draw all shifts in one call, rng.integers(-max_shift, max_shift + 1, "
            "size=(N, 2)) (upper bound excluded), then shift_images(x, shifts)."
        ),
    ),
    Check(
        name="gradient_norms",
        points=2,
        make_inputs=_norm_inputs,
        call=_norm_call,
        reference=_norm_reference,
        rtol=1e-6,
        hint=(
            "model.forward(x), then softmax_cross_entropy(scores, y) gives "
            "(loss, dscores), then model.backward(dscores); collect "
            "np.linalg.norm(layer.grads['W']) for layer in walk(model) if 'W' in "
            "layer.params (this includes the layers inside Residual blocks)."
        ),
    ),
]

# Nothing of dlcore is withheld: the graded parts are not dlcore functions
# (students train with dlcore's layers and model).
WITHHELD: list[str] = []
