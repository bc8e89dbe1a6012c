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
    x, y = _separable(rng)
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
    def make(rng):
        x = rng.standard_normal(shape) * 2.0
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
        hint="Visit the examples in order and update only when y_i (w.x_i + b) <= 0 "
        "(a point on the boundary counts as a mistake); the bias moves by y_i.",
    ),
    Check(
        name="adaline_epoch",
        points=1,
        make_inputs=_adaline_inputs,
        call=lambda fn, w, b, x, y, lr: tuple(fn(w, b, x, y, lr)),
        reference=_adaline_epoch,
        outputs=("w", "b"),
        hint="ADALINE uses the linear output y_hat = w.x + b (no sign) in the error "
        "y - y_hat, and updates after every example, not once per epoch.",
    ),
    Check(
        name="affine_one_example",
        points=1,
        make_inputs=_one_example_inputs,
        call=lambda fn, x, W, g: tuple(fn(x, W, g)),
        reference=_one_example_reference,
        outputs=("dx", "dW", "db"),
        hint="Each is a sum over i of g_i times d s_i / d(variable); dW has the "
        "shape of W (an outer product), dx the shape of x.",
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
    ),
    Check(
        name="relu",
        points=1,
        make_inputs=_pair_inputs((4, 6)),
        call=_call_pair,
        reference=_pair_reference(F.relu_forward, F.relu_backward),
        outputs=("out", "dx"),
        hint="The gradient passes only where x > 0 (use the input, not dout, for "
        "the mask).",
    ),
    Check(
        name="sigmoid",
        points=1,
        make_inputs=_pair_inputs((4, 6)),
        call=_call_pair,
        reference=_pair_reference(F.sigmoid_forward, F.sigmoid_backward),
        outputs=("out", "dx"),
        hint="sigma'(x) = sigma(x) (1 - sigma(x)): keep the output in the cache.",
    ),
    Check(
        name="tanh",
        points=1,
        make_inputs=_pair_inputs((4, 6)),
        call=_call_pair,
        reference=_pair_reference(F.tanh_forward, F.tanh_backward),
        outputs=("out", "dx"),
        hint="tanh'(x) = 1 - tanh(x)^2.",
    ),
    Check(
        name="leaky_relu",
        points=1,
        make_inputs=_alpha_pair_inputs(0.01, 0.3),
        call=_call_pair,
        reference=_pair_reference(F.leaky_relu_forward, F.leaky_relu_backward),
        outputs=("out", "dx"),
        hint="Slope 1 where x > 0 and alpha elsewhere; use the alpha passed in "
        "(keep it in the cache).",
    ),
    Check(
        name="elu",
        points=1,
        make_inputs=_alpha_pair_inputs(0.5, 2.0),
        call=_call_pair,
        reference=_pair_reference(F.elu_forward, F.elu_backward),
        outputs=("out", "dx"),
        hint="For x <= 0 the output is alpha (e^x - 1) and the slope alpha e^x; "
        "for x > 0 both are those of the identity.",
    ),
    Check(
        name="q_sigmoid_layers",
        points=1,
        make_inputs=_no_inputs,
        call=_answered,
        reference=_sigmoid_layers,
        compare=_compare_count,
        hint="Find the largest value of sigma'(s), then the smallest L with "
        "(that value)^L <= 1e-3.",
    ),
    Check(
        name="softmax_jacobian",
        points=1,
        make_inputs=_jacobian_inputs,
        call=lambda fn, s: fn(s),
        reference=_jacobian_reference,
        hint="Entry (k, j) is d p_k / d s_j: differentiate the quotient "
        "e^{s_k} / sum_l e^{s_l}, separately for j = k and j != k.",
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
        hint="Subtract each row's maximum before exponentiating (one row has scores "
        "near 1000), average the loss over the batch, and divide the gradient "
        "you derived by N too.",
    ),
    Check(
        name="logistic_gradients",
        points=2,
        make_inputs=_logistic_inputs,
        call=lambda fn, s, y: tuple(fn(s, y)),
        reference=_logistic_reference,
        outputs=("d_squared", "d_nll"),
        hint="Chain rule through y_hat = sigma(s): dJ/ds = dJ/dy_hat * sigma'(s). "
        "Both are per example (no average); the squared error carries the 1/2.",
    ),
    Check(
        name="q_gradient_ratio",
        points=1,
        make_inputs=_no_inputs,
        call=_answered,
        reference=_gradient_ratio,
        compare=_compare_ratio,
        hint="Evaluate your logistic_gradients at s = -6, y = 1 and divide the "
        "absolute values (NLL over squared error).",
    ),
    Check(
        name="two_layer_gradients",
        points=2,
        make_inputs=_two_layer_inputs,
        call=lambda fn, x, y, W1, b1, w2, b2: tuple(fn(x, y, W1, b1, w2, b2)),
        reference=_two_layer_reference,
        outputs=("e2", "e1", "dW1", "db1", "dw2", "db2"),
        hint="e2 = dL/dh2 (through the sigmoid), e1 = dL/dh1 (through w2 and "
        "tanh); each weight gradient is an error signal times the input of "
        "its layer.",
    ),
    Check(
        name="l2_penalty",
        points=1,
        make_inputs=_penalty_inputs,
        call=_call_penalty,
        reference=_penalty_reference,
        outputs=("value", "dW1", "dW2", "dW3"),
        hint="The penalty sums lam * (every squared weight entry) over the layers; "
        "the biases are not penalised.",
    ),
    Check(
        name="mlp_loss",
        points=3,
        make_inputs=_mlp_inputs,
        call=_call_mlp,
        reference=_mlp_reference,
        outputs=("loss", "dW1", "db1", "dW2", "db2", "dW3", "db3"),
        hint="Add the penalty's gradient to each weight gradient (not to the "
        "biases), once, after the data term; the last layer has no activation.",
    ),
]
