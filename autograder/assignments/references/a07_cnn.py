"""Reference functions and custom comparisons of 07_cnn.

The parent's side of ``autograder/assignments/a07_cnn.py``: what only
the grading process computes (expected outputs, judgements of a result).
The re-check's child never runs it, so it may use anything of dlcore.

They are computed with dlcore wherever it has the piece: parameter
counts are read off built ``Dense``/``Conv2D`` layers, and the receptive
field is *measured* by back-propagating one output unit through all-ones
``Conv1D`` layers.
"""

from __future__ import annotations

import numpy as np

from dlcore.layers import Conv1D, Conv2D, Dense, walk
from dlcore.losses import softmax_cross_entropy
from dlcore.model import Sequential

TARGET_ACCURACY = 0.90


# ------------------------------------------------------------- parameters


def _built_count(layer, input_shape) -> int:
    layer.build(tuple(input_shape), np.random.default_rng(0))
    return int(sum(p.size for p in layer.params.values()))


def _count_reference(cases):
    return np.array(
        [_built_count(Conv2D(f, k), (c, k + 1, k + 1)) for c, f, k in cases.tolist()]
    )


def _three_ways_reference(cases):
    dense, local, conv = [], [], []
    for c, h, w, f, k in cases.tolist():
        n_out = f * h * w
        dense.append(_built_count(Dense(n_out), (c * h * w,)))
        # dlcore has no locally connected layer: every output unit owns its
        # C*K*K weights and its bias
        local.append(n_out * c * k * k + n_out)
        conv.append(_built_count(Conv2D(f, k, padding="same"), (c, h, w)))
    return np.array(dense), np.array(local), np.array(conv)


def _weight_growth_reference():
    """How the weights of a dense and a conv layer grow when H and W double."""

    def weights(layer, shape):
        layer.build(shape, np.random.default_rng(0))
        return layer.params["W"].size

    dense = weights(Dense(16 * 16), (16 * 16,)) / weights(Dense(8 * 8), (8 * 8,))
    conv = weights(Conv2D(1, 5, padding="same"), (1, 16, 16)) / weights(
        Conv2D(1, 5, padding="same"), (1, 8, 8)
    )
    return np.array([dense, conv])


def _bottleneck_reference():
    """Parameters of ResNet's basic and bottleneck blocks on 256 channels."""
    basic = _built_count(Conv2D(256, 3, padding="same"), (256, 8, 8))
    reduce = _built_count(Conv2D(64, 1), (256, 8, 8))
    middle = _built_count(Conv2D(64, 3, padding="same"), (64, 8, 8))
    expand = _built_count(Conv2D(256, 1), (64, 8, 8))
    return np.array([2 * basic, reduce + middle + expand], dtype=np.float64)


# ------------------------------------------------------ receptive field


def _step_reference(cases):
    size, jump, kernel, stride = cases.T
    return size + (kernel - 1) * jump, jump * stride


def _measured_field(stack) -> int:
    """Receptive field measured, not computed: the input entries that one
    output unit depends on, found by back-propagating through all-ones
    kernels (positive weights: no contribution can cancel)."""
    n = 1 + sum(k for k, _ in stack) * int(np.prod([s for _, s in stack])) * 2
    net = Sequential(
        [
            Conv1D(
                1,
                k,
                stride=s,
                use_bias=False,
                kernel_initializer=lambda shape, rng: np.ones(shape),
            )
            for k, s in stack
        ]
    )
    out = net.forward(np.ones((1, 1, n)), training=False)
    dout = np.zeros_like(out)
    dout[0, 0, 0] = 1.0
    reached = np.flatnonzero(net.backward(dout)[0, 0])
    return int(reached[-1] - reached[0] + 1)


def _stack_reference(stacks):
    return np.array([_measured_field(stack) for stack in stacks])


def _layers_to_cover_reference():
    """Fewest stride-1 3x3 layers whose top unit sees a whole 8x8 digit."""
    depth = 1
    while _measured_field([(3, 1)] * depth) < 8:
        depth += 1
    return np.array(depth, dtype=np.float64)


# ---------------------------------------------------------------- LeNet


def _accuracy_compare(labels, received):
    """Scored by the grader: the labels are held out of the student's side."""
    predicted, problems = np.asarray(received[0]), list(received[1])
    if predicted.shape != labels.shape:
        return f"{labels.shape[0]} predicted classes expected, got {predicted.shape}"
    accuracy = float(np.mean(predicted == labels))
    if accuracy < TARGET_ACCURACY:
        problems.append(
            f"accuracy on held-out test images {accuracy:.3f}, at least "
            f"{TARGET_ACCURACY:.2f} expected"
        )
    return "; ".join(problems) or None


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


def _random_shift_reference(x, max_shift, rng):
    shifts = rng.integers(-max_shift, max_shift + 1, size=(len(x), 2))
    return _reference_shift(x, shifts)


# ------------------------------------------------------- gradient norms


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


# ------------------------------------------------------ the custom loss


def _smoothing_reference(scores, labels, epsilon):
    n, k = scores.shape
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    target = np.full((n, k), epsilon / k)
    target[np.arange(n), labels] += 1.0 - epsilon
    value = -np.sum(target * log_p) / n
    return np.float64(value), (np.exp(log_p) - target) / n
