"""Graded checks of assignment 01_backprop (solutions/01_backprop/).

Besides the building blocks (perceptron, ADALINE, the affine layer, five
activations, the softmax cross-entropy, the k-layer loss), the checks grade
the steps of the derivations the notebook asks for: the affine layer's
gradients for one example, the softmax Jacobian, the score gradients of the
two-class losses, the two-layer error signals and the L2 penalty alone; and
the answers to the auto-graded questions (``q_*``: a number the student
assigns; ``...`` means not answered yet).
"""

import numpy as np

import dlcore.functional as F
import dlcore.losses
from autograder.assignments.mistakes.a01_backprop import MISCONCEPTIONS
from autograder.assignments.references.a01_backprop import (
    _adaline_epoch,
    _compare_count,
    _compare_ratio,
    _gradient_ratio,
    _jacobian_reference,
    _linear_reference,
    _logistic_reference,
    _mlp_reference,
    _one_example_reference,
    _pair_reference,
    _penalty_reference,
    _perceptron_epoch,
    _sigmoid_layers,
    _two_layer_reference,
)
from autograder.checks import Check

# dlcore functions the graded cells ask the students to write themselves.
WITHHELD = [
    "dlcore.functional.linear_forward",
    "dlcore.functional.linear_backward",
    "dlcore.functional.relu_forward",
    "dlcore.functional.relu_backward",
    "dlcore.functional.sigmoid_forward",
    "dlcore.functional.sigmoid_backward",
    "dlcore.functional.tanh_forward",
    "dlcore.functional.tanh_backward",
    "dlcore.functional.leaky_relu_forward",
    "dlcore.functional.leaky_relu_backward",
    "dlcore.functional.elu_forward",
    "dlcore.functional.elu_backward",
    "dlcore.functional.softmax_forward",
    "dlcore.functional.softmax_backward",
    "dlcore.losses.softmax_cross_entropy",
]

# --------------------------------------------------------------- inputs


def _separable(rng, n=24, d=3):
    """Points labelled +-1 by a random hyperplane (a margin keeps it clean)."""
    w_true = rng.standard_normal(d)
    x = rng.standard_normal((n, d))
    margin = x @ w_true + 0.3
    x = x[np.abs(margin) > 0.2]
    return x, np.where(x @ w_true + 0.3 > 0, 1.0, -1.0)


def _perceptron_inputs(rng):
    """Separable points, after one exactly on the boundary: the origin, which
    scores b = 0 at the start (a mistake, by the rule's <= 0) and moves the
    bias, so a forgotten bias update shows."""
    x, y = _separable(rng)
    x = np.vstack([np.zeros(x.shape[1]), x])
    y = np.concatenate([[1.0], y])
    return {"w": 0.1 * rng.standard_normal(x.shape[1]), "b": 0.0, "x": x, "y": y}


def _adaline_inputs(rng):
    x = rng.standard_normal((20, 3))
    y = x @ rng.standard_normal(3) + 0.5 + 0.1 * rng.standard_normal(20)
    return {
        "w": 0.1 * rng.standard_normal(3),
        "b": 0.0,
        "x": x,
        "y": y,
        "lr": 0.05,
    }


def _pair_inputs(shape):
    """An activation's input with some entries exactly 0, where the contract
    decides the derivative (ReLU 0, leaky ReLU and ELU alpha)."""

    def make(rng):
        x = rng.standard_normal(shape) * 2.0
        x.flat[::5] = 0.0
        return {"x": x, "dout": rng.standard_normal(shape)}

    return make


def _alpha_pair_inputs(low, high):
    def make(rng):
        inputs = _pair_inputs((4, 6))(rng)
        inputs["alpha"] = float(rng.uniform(low, high))
        return inputs

    return make


def _one_example_inputs(rng):
    d, m = 4, 3
    return {
        "x": rng.standard_normal(d),
        "W": rng.standard_normal((m, d)),
        "g": rng.standard_normal(m),
    }


def _linear_inputs(rng):
    n, d_in, d_out = 5, 4, 3
    return {
        "x": rng.standard_normal((n, d_in)),
        "W": rng.standard_normal((d_out, d_in)),
        "b": rng.standard_normal(d_out),
        "dout": rng.standard_normal((n, d_out)),
    }


def _softmax_inputs(rng):
    scores = 3.0 * rng.standard_normal((6, 5))
    scores[0] += 1000.0  # overflows a softmax that does not subtract the max
    return {"scores": scores, "labels": rng.integers(0, 5, size=6)}


def _jacobian_inputs(rng):
    return {"s": 2.0 * rng.standard_normal(int(rng.integers(3, 7)))}


def _logistic_inputs(rng):
    s = 4.0 * rng.standard_normal(12)
    return {"s": s, "y": rng.integers(0, 2, size=12).astype(float)}


def _two_layer_inputs(rng):
    d, n = 3, 4
    return {
        "x": rng.standard_normal(d),
        "y": float(rng.uniform(0.0, 1.0)),
        "W1": rng.standard_normal((n, d)),
        "b1": rng.standard_normal(n),
        "w2": rng.standard_normal(n),
        "b2": float(rng.standard_normal()),
    }


def _params(rng, sizes):
    return [
        (0.5 * rng.standard_normal((m, n)), 0.1 * rng.standard_normal(m))
        for n, m in zip(sizes[:-1], sizes[1:], strict=True)
    ]


def _penalty_inputs(rng):
    return {"params": _params(rng, [4, 6, 5, 3]), "lam": float(rng.uniform(0.01, 1))}


def _mlp_inputs(rng):
    sizes = [4, 6, 5, 3]
    return {
        "x": rng.standard_normal((7, sizes[0])),
        "y": rng.integers(0, sizes[-1], size=7),
        "params": _params(rng, sizes),
        "lam": 0.1,
    }


def _no_inputs(rng):
    return {}


# ---------------------------------------------------------------- calls


def _call_pair(fns, x, dout, **hyper):
    forward, backward = fns
    out, cache = forward(x, **hyper)
    return out, backward(dout, cache)


def _call_linear(fns, x, W, b, dout):
    forward, backward = fns
    out, cache = forward(x, W, b)
    dx, dW, db = backward(dout, cache)
    return out, dx, dW, db


def _call_penalty(fn, params, lam):
    value, grads = fn(params, lam)
    return (value, *grads)


def _call_mlp(fn, x, y, params, lam):
    loss, grads = fn(x, y, params, lam)
    return (loss, *[a for pair in grads for a in pair])


# ------------------------------------------------------------ questions


def _answered(answer):
    """The student's answer as a float64 scalar; ``...`` is no answer yet."""
    if answer is Ellipsis:
        raise NotImplementedError("replace ... by your answer")
    try:
        return np.float64(answer)
    except (TypeError, ValueError):
        return np.float64(np.nan)


# ------------------------------------------------------------------ checks

CHECKS = [
    Check(
        name="perceptron_epoch",
        points=1,
        make_inputs=_perceptron_inputs,
        call=lambda fn, w, b, x, y: tuple(fn(w, b, x, y)),
        reference=_perceptron_epoch,
        outputs=("w", "b", "mistakes"),
        hint="Visit the examples in order and update right after each mistake; a "
        "point exactly on the decision boundary counts as a mistake, and the "
        "bias is a weight like the others.",
        misconceptions=MISCONCEPTIONS["perceptron_epoch"],
    ),
    Check(
        name="adaline_epoch",
        points=1,
        make_inputs=_adaline_inputs,
        call=lambda fn, w, b, x, y, lr: tuple(fn(w, b, x, y, lr)),
        reference=_adaline_epoch,
        outputs=("w", "b"),
        hint="ADALINE's error is measured on the linear output, before any "
        "threshold, and the weights move after every example.",
        misconceptions=MISCONCEPTIONS["adaline_epoch"],
    ),
    Check(
        name="affine_one_example",
        points=1,
        make_inputs=_one_example_inputs,
        call=lambda fn, x, W, g: tuple(fn(x, W, g)),
        reference=_one_example_reference,
        outputs=("dx", "dW", "db"),
        hint="Each is a sum over i of g_i times d s_i / d(variable); every gradient "
        "has the shape of its variable.",
        misconceptions=MISCONCEPTIONS["affine_one_example"],
    ),
    Check(
        name="linear",
        points=1,
        make_inputs=_linear_inputs,
        call=_call_linear,
        reference=_linear_reference,
        outputs=("out", "dx", "dW", "db"),
        hint="One example per row: the loss adds the examples' contributions, so "
        "the parameter gradients sum your one-example formulas over the rows.",
        more_hints=(
            "Check the shapes: each gradient has the shape of its variable, and "
            "a sum over the examples removes the batch axis.",
        ),
        misconceptions=MISCONCEPTIONS["linear"],
    ),
    Check(
        name="relu",
        points=1,
        make_inputs=_pair_inputs((4, 6)),
        call=_call_pair,
        reference=_pair_reference(F.relu_forward, F.relu_backward),
        outputs=("out", "dx"),
        hint="The gradient passes only where the unit was active; decide with the "
        "input, and mind the inputs that are exactly 0 (the contract: slope 0 "
        "there, as PyTorch).",
        misconceptions=MISCONCEPTIONS["relu"],
    ),
    Check(
        name="sigmoid",
        points=1,
        make_inputs=_pair_inputs((4, 6)),
        call=_call_pair,
        reference=_pair_reference(F.sigmoid_forward, F.sigmoid_backward),
        outputs=("out", "dx"),
        hint="The sigmoid's derivative can be written with its own output only: "
        "keep that in the cache.",
        misconceptions=MISCONCEPTIONS["sigmoid"],
    ),
    Check(
        name="tanh",
        points=1,
        make_inputs=_pair_inputs((4, 6)),
        call=_call_pair,
        reference=_pair_reference(F.tanh_forward, F.tanh_backward),
        outputs=("out", "dx"),
        hint="Like the sigmoid, tanh's derivative can be written with its own "
        "output only.",
        misconceptions=MISCONCEPTIONS["tanh"],
    ),
    Check(
        name="leaky_relu",
        points=1,
        make_inputs=_alpha_pair_inputs(0.01, 0.3),
        call=_call_pair,
        reference=_pair_reference(F.leaky_relu_forward, F.leaky_relu_backward),
        outputs=("out", "dx"),
        hint="Two slopes, one on each side of 0, and the alpha passed in (keep it "
        "in the cache); at exactly 0 the contract takes the left one.",
        misconceptions=MISCONCEPTIONS["leaky_relu"],
    ),
    Check(
        name="elu",
        points=1,
        make_inputs=_alpha_pair_inputs(0.5, 2.0),
        call=_call_pair,
        reference=_pair_reference(F.elu_forward, F.elu_backward),
        outputs=("out", "dx"),
        hint="Below 0 the output is a scaled, shifted exponential; differentiate "
        "that branch. Above 0 it is the identity. At exactly 0 the contract takes "
        "the left branch.",
        misconceptions=MISCONCEPTIONS["elu"],
    ),
    Check(
        name="q_sigmoid_layers",
        points=1,
        make_inputs=_no_inputs,
        call=_answered,
        reference=_sigmoid_layers,
        compare=_compare_count,
        hint="Find the largest value of the sigmoid's slope, then the smallest "
        "number of layers for which its power is at most 1e-3.",
        misconceptions=MISCONCEPTIONS["q_sigmoid_layers"],
    ),
    Check(
        name="softmax_jacobian",
        points=1,
        make_inputs=_jacobian_inputs,
        call=lambda fn, s: fn(s),
        reference=_jacobian_reference,
        hint="Entry (k, j) is d p_k / d s_j: differentiate the quotient, "
        "separately for j = k and j != k.",
        misconceptions=MISCONCEPTIONS["softmax_jacobian"],
    ),
    Check(
        name="softmax_cross_entropy",
        points=2,
        make_inputs=_softmax_inputs,
        call=lambda fn, scores, labels: tuple(fn(scores, labels)),
        reference=lambda scores, labels: dlcore.losses.softmax_cross_entropy(
            scores, labels
        ),
        outputs=("loss", "dscores"),
        hint="Large scores overflow the exponential (one row is near 1000): the "
        "softmax does not change when a row is shifted. The loss is a mean over "
        "the batch, and the gradient is that of the mean.",
        misconceptions=MISCONCEPTIONS["softmax_cross_entropy"],
    ),
    Check(
        name="logistic_gradients",
        points=2,
        make_inputs=_logistic_inputs,
        call=lambda fn, s, y: tuple(fn(s, y)),
        reference=_logistic_reference,
        outputs=("d_squared", "d_nll"),
        hint="Chain rule through y_hat = sigma(s): the loss's derivative in y_hat "
        "times the sigmoid's slope. Both are per example (no average).",
        more_hints=(
            "For the NLL, simplify the product: something cancels, which is the "
            "point of the q_gradient_ratio question.",
        ),
        misconceptions=MISCONCEPTIONS["logistic_gradients"],
    ),
    Check(
        name="q_gradient_ratio",
        points=1,
        make_inputs=_no_inputs,
        call=_answered,
        reference=_gradient_ratio,
        compare=_compare_ratio,
        hint="Evaluate your logistic_gradients at s = -6, y = 1 and compare the "
        "sizes (NLL over squared error).",
        misconceptions=MISCONCEPTIONS["q_gradient_ratio"],
    ),
    Check(
        name="two_layer_gradients",
        points=2,
        make_inputs=_two_layer_inputs,
        call=lambda fn, x, y, W1, b1, w2, b2: tuple(fn(x, y, W1, b1, w2, b2)),
        reference=_two_layer_reference,
        outputs=("e2", "e1", "dW1", "db1", "dw2", "db2"),
        hint="e2 is the error at the output's pre-activation (through the "
        "sigmoid), e1 at the hidden pre-activations (back through w2 and tanh); "
        "each weight gradient is an error signal times the input of its layer.",
        misconceptions=MISCONCEPTIONS["two_layer_gradients"],
    ),
    Check(
        name="l2_penalty",
        points=1,
        make_inputs=_penalty_inputs,
        call=_call_penalty,
        reference=_penalty_reference,
        outputs=("value", "dW1", "dW2", "dW3"),
        hint="The penalty adds lam times every squared weight entry over the "
        "layers; the biases are not penalised.",
        misconceptions=MISCONCEPTIONS["l2_penalty"],
    ),
    Check(
        name="mlp_loss",
        points=3,
        make_inputs=_mlp_inputs,
        call=_call_mlp,
        reference=_mlp_reference,
        outputs=("loss", "dW1", "db1", "dW2", "db2", "dW3", "db3"),
        hint="The penalty's gradient joins each weight gradient (not the biases), "
        "once, after the data term; the last layer has no activation.",
        misconceptions=MISCONCEPTIONS["mlp_loss"],
    ),
]
