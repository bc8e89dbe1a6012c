"""Known wrong answers of assignment 01_backprop (solutions/01_backprop/).

Each check of ``autograder/assignments/a01_backprop.py`` that declares
misconceptions finds them in ``MISCONCEPTIONS`` under its name: the wrong
answer, written as a student would write it, and the message that names the
mistake without giving the answer (``autograder/AUTHORING.md`` § 1b).
"""

from __future__ import annotations

import numpy as np

import dlcore.functional as F
import dlcore.losses
from autograder.assignments.references.a01_backprop import (
    _gradient_ratio,
    _sigmoid_layers,
)
from autograder.declarations import Misconception


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


# ------------------------------------------------------------ per check

MISCONCEPTIONS = {
    "perceptron_epoch": (
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
    "adaline_epoch": (
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
    "affine_one_example": (
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
    "linear": (
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
    "relu": (
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
    "sigmoid": (
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
    "tanh": (
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
    "leaky_relu": (
        Misconception(
            "default_alpha",
            "your backward pass uses the default alpha, not the one the "
            "forward pass was given.",
            answer=_activation(_leaky, lambda x, out, alpha: np.where(x > 0, 1, 0.01)),
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
    "elu": (
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
    "q_sigmoid_layers": (
        Misconception(
            "one_layer_short",
            "with your number of layers the product is still above 1e-3.",
            variant=lambda: _sigmoid_layers() - 1,
        ),
    ),
    "softmax_jacobian": (
        Misconception(
            "diagonal_only",
            "your Jacobian is diagonal; every p_k depends on every score "
            "through the normalising sum.",
            answer=_jacobian_diagonal,
        ),
    ),
    "softmax_cross_entropy": (
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
    "logistic_gradients": (
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
    "q_gradient_ratio": (
        Misconception(
            "ratio_inverted",
            "your ratio is the squared error's gradient over the NLL's; the "
            "question asks for the NLL's over the squared error's.",
            variant=lambda: 1.0 / _gradient_ratio(),
            matches=_ratio_near,
        ),
    ),
    "two_layer_gradients": (
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
    "l2_penalty": (
        Misconception(
            "factor_two_missing",
            "your gradient is half of what it should be: differentiating a "
            "square brings down a factor.",
            answer=_penalty(factor=1.0),
        ),
        Misconception(
            "biases_penalised",
            "your penalty includes the biases; only the weight matrices are penalised.",
            answer=_penalty(with_biases=True),
        ),
    ),
    "mlp_loss": (
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
            "your bias gradients include a penalty term; the biases are not penalised.",
            answer=_mlp(penalise_biases=True),
        ),
    ),
}
