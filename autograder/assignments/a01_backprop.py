"""Graded checks of assignment 01_backprop (solutions/01_backprop/).

Besides the building blocks (perceptron, ADALINE, the affine layer, five
activations, the softmax cross-entropy, the k-layer loss), the checks grade
the steps of the derivations the notebook asks for: the affine layer's
gradients for one example, the softmax Jacobian, the score gradients of the
two-class losses, the two-layer error signals and the L2 penalty alone; and
the answers to the auto-graded questions (``q_*``: a number the student
assigns; ``...`` means not answered yet).
"""

import math

import numpy as np

import dlcore.functional as F
import dlcore.losses
from autograder.declarations import Check, Misconception

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


# ----------------------------------------------------------- references


def _perceptron_epoch(w, b, x, y):
    w, b, mistakes = np.array(w, dtype=float), float(b), 0
    for x_i, y_i in zip(x, y, strict=True):
        if y_i * (x_i @ w + b) <= 0:
            w = w + y_i * x_i
            b = b + y_i
            mistakes += 1
    return w, b, mistakes


def _adaline_epoch(w, b, x, y, lr):
    w, b = np.array(w, dtype=float), float(b)
    for x_i, y_i in zip(x, y, strict=True):
        error = y_i - (x_i @ w + b)
        w = w + lr * error * x_i
        b = b + lr * error
    return w, b


def _pair_reference(forward, backward):
    def reference(x, dout, **hyper):
        out, cache = forward(x, **hyper)
        return out, backward(dout, cache)

    return reference


def _call_pair(fns, x, dout, **hyper):
    forward, backward = fns
    out, cache = forward(x, **hyper)
    return out, backward(dout, cache)


def _one_example_reference(x, W, g):
    _, cache = F.linear_forward(x[None, :], W, np.zeros(W.shape[0]))
    dx, dW, db = F.linear_backward(g[None, :], cache)
    return dx[0], dW, db


def _call_linear(fns, x, W, b, dout):
    forward, backward = fns
    out, cache = forward(x, W, b)
    dx, dW, db = backward(dout, cache)
    return out, dx, dW, db


def _linear_reference(x, W, b, dout):
    out, cache = F.linear_forward(x, W, b)
    return (out, *F.linear_backward(dout, cache))


def _jacobian_reference(s):
    p = F.softmax_forward(s)[0]
    return np.diag(p) - np.outer(p, p)


def _logistic_reference(s, y):
    p = F.sigmoid_forward(s)[0]
    return (p - y) * p * (1.0 - p), p - y


def _two_layer_reference(x, y, W1, b1, w2, b2):
    """The lecture's network: tanh hidden units, sigmoid output, (y_hat - y)^2 / 2."""
    hidden = np.tanh(W1 @ x + b1)
    y_hat = F.sigmoid_forward(np.array(w2 @ hidden + b2))[0]
    e2 = (y_hat - y) * y_hat * (1.0 - y_hat)
    e1 = e2 * w2 * (1.0 - hidden**2)
    return np.float64(e2), e1, np.outer(e1, x), e1, e2 * hidden, np.float64(e2)


def _penalty_reference(params, lam):
    value = lam * sum(np.sum(W * W) for W, _ in params)
    return (np.float64(value), *[2.0 * lam * W for W, _ in params])


def _call_penalty(fn, params, lam):
    value, grads = fn(params, lam)
    return (value, *grads)


def _mlp_reference(x, y, params, lam):
    """k-layer ReLU network, softmax cross-entropy, lam * sum ||W||^2."""
    caches, h = [], x
    for i, (W, b) in enumerate(params):
        h, linear_cache = F.linear_forward(h, W, b)
        relu_cache = None
        if i < len(params) - 1:
            h, relu_cache = F.relu_forward(h)
        caches.append((linear_cache, relu_cache))
    loss, g = dlcore.losses.softmax_cross_entropy(h, y)
    loss += lam * sum(np.sum(W * W) for W, _ in params)
    grads = [None] * len(params)
    for i in reversed(range(len(params))):
        linear_cache, relu_cache = caches[i]
        if relu_cache is not None:
            g = F.relu_backward(g, relu_cache)
        g, dW, db = F.linear_backward(g, linear_cache)
        grads[i] = (dW + 2 * lam * params[i][0], db)
    return (loss, *[a for pair in grads for a in pair])


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


def _sigmoid_layers():
    """Layers of sigmoid slopes (at most 1/4 each) until the product <= 1e-3."""
    return np.float64(math.ceil(math.log(1e-3) / math.log(0.25)))


def _compare_count(expected, received):
    if not np.isfinite(received) or received != round(received):
        return f"expected a whole number of layers, received {received}"
    if received != expected:
        return (
            f"{received:g} layers is not the smallest number for which the "
            "product of the largest possible slopes is at most 1e-3"
        )
    return None


def _gradient_ratio():
    """|dJ/ds| of the NLL over that of the squared error, s = -6 and y = 1."""
    p = 1.0 / (1.0 + math.exp(6.0))
    return np.float64(1.0 / (p * (1.0 - p)))


def _compare_ratio(expected, received):
    if not np.isfinite(received) or received <= 0:
        return f"expected a positive ratio, received {received}"
    if abs(received / expected - 1.0) > 1e-3:
        if received < 1:
            return (
                f"your ratio {received:.4g} is below 1: divide the NLL's gradient "
                "by the squared error's, not the other way round"
            )
        return f"your ratio {received:.6g} is not the one at s = -6, y = 1"
    return None


# ------------------------------------------------------- misconceptions
#
# Wrong answers written as a student would write them; each check names the
# one a failing result matches.


def _perceptron(update_when, move_bias=True):
    def perceptron_epoch(w, b, x, y):
        w, b, mistakes = np.array(w, dtype=float), float(b), 0
        for x_i, y_i in zip(x, y, strict=True):
            if update_when(y_i * (x_i @ w + b)):
                w = w + y_i * x_i
                b = b + y_i if move_bias else b
                mistakes += 1
        return w, b, mistakes

    return perceptron_epoch


def _perceptron_batch(w, b, x, y):
    w, b = np.array(w, dtype=float), float(b)
    wrong = y * (x @ w + b) <= 0
    return (
        w + (y[wrong, None] * x[wrong]).sum(axis=0),
        b + y[wrong].sum(),
        int(wrong.sum()),
    )


def _adaline(output=lambda a: a, sign=1.0):
    def adaline_epoch(w, b, x, y, lr):
        w, b = np.array(w, dtype=float), float(b)
        for x_i, y_i in zip(x, y, strict=True):
            error = y_i - output(x_i @ w + b)
            w = w + sign * lr * error * x_i
            b = b + sign * lr * error
        return w, b

    return adaline_epoch


def _adaline_batch(w, b, x, y, lr):
    error = y - (x @ w + b)
    return w + lr * error @ x, b + lr * error.sum()


def _one_example_transposed(x, W, g):
    return g @ W, np.outer(x, g), g.copy()


def _one_example_dx_from_x(x, W, g):
    return x * (g @ W), np.outer(g, x), g.copy()


def _linear_forward(x, W, b):
    return x @ W.T + b, (x, W)


def _linear(dW_of, db_of):
    def backward(dout, cache):
        x, W = cache
        return dout @ W, dW_of(dout, x), db_of(dout)

    return (_linear_forward, backward)


def _summed_dW(dout, x):
    return dout.T @ x


def _averaged_dW(dout, x):
    return dout.T @ x / len(x)


def _transposed_dW(dout, x):
    return x.T @ dout


def _summed_db(dout):
    return dout.sum(axis=0)


def _averaged_db(dout):
    return dout.mean(axis=0)


def _unsummed_db(dout):
    return dout


def _activation(forward, slope):
    """(forward, backward) with backward = dout * slope(x, out, **hyper)."""

    def pair_forward(x, **hyper):
        return forward(x, **hyper), (x, forward(x, **hyper), hyper)

    def pair_backward(dout, cache):
        x, out, hyper = cache
        return dout * slope(x, out, **hyper)

    return (pair_forward, pair_backward)


def _relu(x):
    return np.maximum(x, 0.0)


def _relu_forward(x):
    return np.maximum(x, 0.0), x


def _relu_backward_dout_mask(dout, cache):
    return dout * (dout > 0)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _leaky(x, alpha=0.01):
    return np.where(x > 0, x, alpha * x)


def _elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def _softmax_loss(mean_loss=True, divide_gradient=True, shift=True, subtract=True):
    def softmax_cross_entropy(scores, labels):
        n = scores.shape[0]
        shifted = scores - scores.max(axis=1, keepdims=True) if shift else scores
        with np.errstate(all="ignore"):
            e = np.exp(shifted)
            p = e / e.sum(axis=1, keepdims=True)
            losses = -np.log(p[np.arange(n), labels])
        dscores = p.copy()
        if subtract:
            dscores[np.arange(n), labels] -= 1.0
        loss = losses.mean() if mean_loss else losses.sum()
        return float(loss), dscores / n if divide_gradient else dscores

    return softmax_cross_entropy


def _jacobian_diagonal(s):
    p = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
    return np.diag(p * (1.0 - p))


def _logistic(nll_slope=False, squared_slope=True, sign=1.0):
    def logistic_gradients(s, y):
        y_hat = 1.0 / (1.0 + np.exp(-s))
        slope = y_hat * (1.0 - y_hat)
        d_squared = sign * (y_hat - y) * (slope if squared_slope else 1.0)
        d_nll = sign * (y_hat - y) * (slope if nll_slope else 1.0)
        return d_squared, d_nll

    return logistic_gradients


def _two_layer(sigmoid_slope=True, tanh_slope_of_input=False, transpose=False):
    def two_layer_gradients(x, y, W1, b1, w2, b2):
        pre = W1 @ x + b1
        hidden = np.tanh(pre)
        y_hat = 1.0 / (1.0 + np.exp(-(w2 @ hidden + b2)))
        e2 = (y_hat - y) * (y_hat * (1.0 - y_hat) if sigmoid_slope else 1.0)
        tanh_slope = 1.0 - (pre if tanh_slope_of_input else hidden) ** 2
        e1 = e2 * w2 * tanh_slope
        dW1 = np.outer(x, e1) if transpose else np.outer(e1, x)
        return e2, e1, dW1, e1, e2 * hidden, e2

    return two_layer_gradients


def _penalty(factor=2.0, with_biases=False):
    def l2_penalty(params, lam):
        value = lam * sum(np.sum(W * W) for W, _ in params)
        if with_biases:
            value += lam * sum(np.sum(b * b) for _, b in params)
        return float(value), [factor * lam * W for W, _ in params]

    return l2_penalty


def _mlp(penalty_gradient=True, last_relu=False, penalise_biases=False):
    """The k-layer loss with one thing changed, from dlcore's blocks (they
    run as the grader's: Check.mistake_output allows withheld functions)."""

    def mlp_loss(x, y, params, lam):
        caches, h = [], x
        for i, (W, b) in enumerate(params):
            h, linear_cache = F.linear_forward(h, W, b)
            relu_cache = None
            if i < len(params) - 1 or last_relu:
                h, relu_cache = F.relu_forward(h)
            caches.append((linear_cache, relu_cache))
        loss, g = dlcore.losses.softmax_cross_entropy(h, y)
        loss += lam * sum(np.sum(W * W) for W, _ in params)
        grads = [None] * len(params)
        for i in reversed(range(len(params))):
            linear_cache, relu_cache = caches[i]
            if relu_cache is not None:
                g = F.relu_backward(g, relu_cache)
            g, dW, db = F.linear_backward(g, linear_cache)
            W, b = params[i]
            dW = dW + 2 * lam * W if penalty_gradient else dW
            db = db + 2 * lam * b if penalise_biases else db
            grads[i] = (dW, db)
        return loss, grads

    return mlp_loss


# ------------------------------------------------------------------ checks


def _ratio_near(mistake, received):
    return abs(float(received) / float(mistake) - 1.0) <= 1e-3


_NOT_SUMMED = (
    "is N times too small: did you average over the batch? A parameter "
    "shared by every example collects the sum of their gradients."
)

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
        misconceptions=(
            Misconception(
                "boundary_is_correct",
                "your rule leaves a point exactly on the decision boundary alone "
                "(the first example scores exactly 0); the perceptron counts it "
                "as a mistake.",
                answer=_perceptron(lambda margin: margin < 0),
            ),
            Misconception(
                "bias_not_updated",
                "your bias never moves: it is updated like a weight whose input "
                "is always 1.",
                answer=_perceptron(lambda margin: margin <= 0, move_bias=False),
            ),
            Misconception(
                "one_update_per_epoch",
                "you collect the mistakes of the whole epoch and update once; the "
                "perceptron updates after each mistake, and the next example sees "
                "the new weights.",
                answer=_perceptron_batch,
            ),
        ),
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
        misconceptions=(
            Misconception(
                "thresholded_output",
                "your error uses the thresholded output (its sign), as the "
                "perceptron does; ADALINE learns from the linear output.",
                answer=_adaline(output=np.sign),
            ),
            Misconception(
                "one_update_per_epoch",
                "you update once per epoch with the summed errors; this rule "
                "updates after every example, in order.",
                answer=_adaline_batch,
            ),
            Misconception(
                "uphill",
                "your weights move against the error, up the squared-error cost.",
                answer=_adaline(sign=-1.0),
            ),
        ),
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
        misconceptions=(
            Misconception(
                "dW_transposed",
                "your dW is the transpose: entry (i, j) belongs to W[i, j], which "
                "connects input j to output i.",
                answer=_one_example_transposed,
            ),
            Misconception(
                "dx_scaled_by_x",
                "your dx is multiplied by x itself; s depends on x through W only.",
                answer=_one_example_dx_from_x,
            ),
        ),
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
        misconceptions=(
            Misconception(
                "dW_averaged",
                "your dW " + _NOT_SUMMED,
                answer=_linear(_averaged_dW, _summed_db),
            ),
            Misconception(
                "db_averaged",
                "your db " + _NOT_SUMMED,
                answer=_linear(_summed_dW, _averaged_db),
            ),
            Misconception(
                "db_not_summed",
                "your db keeps one row per example; the bias is shared, so its "
                "gradient adds the rows up.",
                answer=_linear(_summed_dW, _unsummed_db),
            ),
            Misconception(
                "dW_transposed",
                "your dW has the shape of W transposed: a gradient has the shape of "
                "its variable.",
                answer=_linear(_transposed_dW, _summed_db),
            ),
        ),
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
        misconceptions=(
            Misconception(
                "slope_one_at_zero",
                "your gradient passes where the input is exactly 0; by the "
                "course's contract (and PyTorch) ReLU's derivative at 0 is 0.",
                answer=_activation(_relu, lambda x, out: x >= 0),
            ),
            Misconception(
                "mask_from_dout",
                "your mask looks at the upstream gradient; whether the gradient "
                "passes depends on the unit's input.",
                answer=(_relu_forward, _relu_backward_dout_mask),
            ),
        ),
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
        misconceptions=(
            Misconception(
                "slope_from_input",
                "your slope uses the input x where the sigmoid's output belongs.",
                answer=_activation(_sigmoid, lambda x, out: x * (1.0 - x)),
            ),
            Misconception(
                "slope_without_complement",
                "your slope is the output alone; the derivative has a second "
                "factor that vanishes as the output nears 1.",
                answer=_activation(_sigmoid, lambda x, out: out),
            ),
        ),
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
        misconceptions=(
            Misconception(
                "output_not_squared",
                "your slope uses the output to the first power; in tanh's "
                "derivative it is squared.",
                answer=_activation(np.tanh, lambda x, out: 1.0 - out),
            ),
            Misconception(
                "slope_from_input",
                "your slope uses the input x where tanh's output belongs.",
                answer=_activation(np.tanh, lambda x, out: 1.0 - x * x),
            ),
        ),
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
        misconceptions=(
            Misconception(
                "default_alpha",
                "your backward pass uses the default alpha, not the one the "
                "forward pass was given.",
                answer=_activation(
                    _leaky, lambda x, out, alpha: np.where(x > 0, 1, 0.01)
                ),
            ),
            Misconception(
                "slope_one_at_zero",
                "at an input of exactly 0 your slope is 1; the contract (and "
                "PyTorch) give alpha there.",
                answer=_activation(
                    _leaky, lambda x, out, alpha: np.where(x >= 0, 1.0, alpha)
                ),
            ),
        ),
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
        misconceptions=(
            Misconception(
                "slope_without_alpha",
                "your slope on the negative side leaves out alpha.",
                answer=_activation(
                    _elu, lambda x, out, alpha: np.where(x > 0, 1.0, np.exp(x))
                ),
            ),
            Misconception(
                "slope_one_at_zero",
                "at an input of exactly 0 your slope is 1; the contract (and "
                "PyTorch) give alpha there.",
                answer=_activation(
                    _elu, lambda x, out, alpha: np.where(x >= 0, 1.0, alpha * np.exp(x))
                ),
            ),
        ),
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
        misconceptions=(
            Misconception(
                "one_layer_short",
                "with your number of layers the product is still above 1e-3.",
                variant=lambda: _sigmoid_layers() - 1,
            ),
        ),
    ),
    Check(
        name="softmax_jacobian",
        points=1,
        make_inputs=_jacobian_inputs,
        call=lambda fn, s: fn(s),
        reference=_jacobian_reference,
        hint="Entry (k, j) is d p_k / d s_j: differentiate the quotient, "
        "separately for j = k and j != k.",
        misconceptions=(
            Misconception(
                "diagonal_only",
                "your Jacobian is diagonal; every p_k depends on every score "
                "through the normalising sum.",
                answer=_jacobian_diagonal,
            ),
        ),
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
        misconceptions=(
            Misconception(
                "no_shift",
                "your softmax overflows on the row of large scores: shift each row "
                "first, which leaves the probabilities unchanged.",
                answer=_softmax_loss(shift=False),
            ),
            Misconception(
                "summed_loss",
                "your loss and gradient are those of the sum over the batch; the "
                "loss is the mean.",
                answer=_softmax_loss(mean_loss=False, divide_gradient=False),
            ),
            Misconception(
                "gradient_of_the_sum",
                "your loss is the mean but your gradient is that of the sum: it is "
                "N times too large.",
                answer=_softmax_loss(divide_gradient=False),
            ),
            Misconception(
                "label_term_missing",
                "your gradient is the probabilities alone: the true class's score "
                "also appears in the loss directly.",
                answer=_softmax_loss(subtract=False),
            ),
        ),
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
        misconceptions=(
            Misconception(
                "nll_keeps_slope",
                "your NLL gradient still carries the sigmoid's slope, which "
                "cancels against the log's derivative.",
                answer=_logistic(nll_slope=True),
            ),
            Misconception(
                "squared_error_without_slope",
                "your squared-error gradient stops at y_hat: the chain rule goes on "
                "through the sigmoid.",
                answer=_logistic(squared_slope=False),
            ),
            Misconception(
                "sign_flipped",
                "your gradients have the wrong sign: raising s raises y_hat, which "
                "raises the loss where y_hat is above y.",
                answer=_logistic(sign=-1.0),
            ),
        ),
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
        misconceptions=(
            Misconception(
                "ratio_inverted",
                "your ratio is the squared error's gradient over the NLL's; the "
                "question asks for the NLL's over the squared error's.",
                variant=lambda: 1.0 / _gradient_ratio(),
                matches=_ratio_near,
            ),
        ),
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
        misconceptions=(
            Misconception(
                "sigmoid_slope_missing",
                "your e2 stops at y_hat: the error signal is taken at the "
                "pre-activation, through the sigmoid's slope.",
                answer=_two_layer(sigmoid_slope=False),
            ),
            Misconception(
                "tanh_slope_from_input",
                "your tanh slope uses the pre-activation where tanh's output belongs.",
                answer=_two_layer(tanh_slope_of_input=True),
            ),
            Misconception(
                "dW1_transposed",
                "your dW1 has the shape of W1 transposed: a gradient has the shape "
                "of its variable.",
                answer=_two_layer(transpose=True),
            ),
        ),
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
        misconceptions=(
            Misconception(
                "factor_two_missing",
                "your gradient is half of what it should be: differentiating a "
                "square brings down a factor.",
                answer=_penalty(factor=1.0),
            ),
            Misconception(
                "biases_penalised",
                "your penalty includes the biases; only the weight matrices are "
                "penalised.",
                answer=_penalty(with_biases=True),
            ),
        ),
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
        misconceptions=(
            Misconception(
                "penalty_gradient_missing",
                "your loss includes the penalty but your weight gradients do not.",
                answer=_mlp(penalty_gradient=False),
            ),
            Misconception(
                "activation_on_scores",
                "your last layer goes through the activation too; the scores that "
                "enter the softmax come straight from the last affine layer.",
                answer=_mlp(last_relu=True),
            ),
            Misconception(
                "biases_penalised",
                "your bias gradients include a penalty term; the biases are not "
                "penalised.",
                answer=_mlp(penalise_biases=True),
            ),
        ),
    ),
]
