"""Known wrong answers of assignment 02_initialization (solutions/02_initialization/).

Each check of ``autograder/assignments/a02_initialization.py`` that declares
misconceptions finds them in ``MISCONCEPTIONS`` under its name: the wrong
answer, written as a student would write it, and the message that names the
mistake without giving the answer (``autograder/AUTHORING.md`` § 1b).
"""

from __future__ import annotations

import math

import numpy as np

from autograder.assignments.references.a02_initialization import (
    _tanh_factor,
    _tanh_layers,
    _xavier_std,
)
from autograder.declarations import Misconception

# The random initializers' mistakes are told
# apart by the spread and shape of their draws, not entry by entry.


def _ratio(second_moment=True, fan_axis=1):
    def variance_ratio(x, W):
        s = x @ W.T
        moment = np.mean(x**2) if second_moment else np.var(x)
        return np.var(s) / (W.shape[fan_axis] * np.var(W) * moment)

    return variance_ratio


def _stds(variance=False, he_factor=2.0, glorot_factor=2.0):
    def init_std(rule, n_in, n_out):
        var = {
            "xavier_lecture": 1.0 / n_in,
            "glorot": glorot_factor / (n_in + n_out),
            "he": he_factor / n_in,
        }[rule]
        return var if variance else math.sqrt(var)

    return init_std


def _normal_init(scale_of_shape, uniform=False):
    def init(shape, rng):
        std = scale_of_shape(shape)
        if uniform:  # same std, a flat distribution
            return rng.uniform(-math.sqrt(3.0) * std, math.sqrt(3.0) * std, shape)
        return std * rng.standard_normal(shape)

    return init


def _same_spread(mistake, received):
    """Same shapes, standard deviations within 3 % and similar kurtosis."""
    for wrong, got in zip(mistake, received, strict=True):
        wrong, got = np.asarray(wrong), np.asarray(got)
        if wrong.shape != got.shape or abs(got.std() / wrong.std() - 1.0) > 0.03:
            return False
        kurtosis = [np.mean((a - a.mean()) ** 4) / a.std() ** 4 for a in (wrong, got)]
        if abs(kurtosis[0] - kurtosis[1]) > 0.3:
            return False
    return True


def _standardize(own_statistics=False, guard=True, ddof=0):
    def standardize(x_train, x):
        source = x if own_statistics else x_train
        mean, std = source.mean(axis=0), source.std(axis=0, ddof=ddof)
        with np.errstate(all="ignore"):
            return (x - mean) / (np.where(std > 0, std, 1.0) if guard else std)

    return standardize


def _whiten(ddof=0, rotate_back=True, own_mean=False):
    def zca_whiten(x_train, x, eps):
        mean = x_train.mean(axis=0)
        centred = x_train - mean
        covariance = centred.T @ centred / (len(x_train) - ddof)
        eigenvalues, vectors = np.linalg.eigh(covariance)
        W = vectors @ np.diag(1.0 / np.sqrt(eigenvalues + eps))
        W = W @ vectors.T if rotate_back else W
        return (x - (x.mean(axis=0) if own_mean else mean)) @ W

    return zca_whiten


def _network_stats(slope=True, transpose=False):
    def activations_and_gradients(x, weights, activation, dout):
        f = np.tanh if activation == "tanh" else (lambda s: np.maximum(s, 0.0))
        hs, ss, h = [x], [], x
        for W in weights:
            ss.append(h @ W.T)
            h = f(ss[-1])
            hs.append(h)
        grads, g = [None] * len(weights), dout
        for l in reversed(range(len(weights))):
            if slope:
                s = ss[l]
                g = g * (1.0 - np.tanh(s) ** 2 if activation == "tanh" else s > 0)
            grads[l] = hs[l].T @ g if transpose else g.T @ hs[l]
            g = g @ weights[l]
        return hs[1:], grads

    return activations_and_gradients


def _orthogonal(sign_fix=True, use_gain=True):
    def orthogonal(shape, rng, gain=1.0):
        rows, cols = shape[0], math.prod(shape[1:])
        q, r = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols))))
        if sign_fix:
            q = q * np.sign(np.diag(r))
        q = q.T if rows < cols else q
        return q.reshape(shape) * (gain if use_gain else 1.0)

    return orthogonal


_FAN_OUT = (
    "the spread of your weights follows the number of outputs (shape[0]); "
    "the forward condition counts the inputs each unit sums over."
)


# ------------------------------------------------------------ per check

MISCONCEPTIONS = {
    "variance_ratio": (
        Misconception(
            "variance_of_inputs",
            "you use the variance of the inputs; the formula needs their "
            "second moment, which differs when the inputs do not have mean 0 "
            "(ReLU outputs, for one).",
            answer=_ratio(second_moment=False),
        ),
        Misconception("fan_out", _FAN_OUT, answer=_ratio(fan_axis=0)),
    ),
    "init_std": (
        Misconception(
            "variance_not_std",
            "your values are variances; the function returns the standard "
            "deviation of the weights.",
            answer=_stds(variance=True),
        ),
        Misconception(
            "he_without_relu_factor",
            "your he equals xavier_lecture: ReLU zeroes half of the inputs, "
            "which the variance must make up for.",
            answer=_stds(he_factor=1.0),
        ),
        Misconception(
            "glorot_not_averaged",
            "your glorot is half of what averaging the forward and backward "
            "conditions gives.",
            answer=_stds(glorot_factor=1.0),
        ),
    ),
    "q_tanh_factor": (
        Misconception(
            "variance_factor",
            "your factor multiplies the variance; the question asks for the "
            "factor of the standard deviation.",
            variant=lambda: _tanh_factor() ** 2,
            matches=lambda mistake, got: abs(got / mistake - 1.0) <= 0.01,
        ),
    ),
    "q_tanh_layers": (
        Misconception(
            "one_layer_short",
            "after your number of layers the std is still at least 1e-3: the "
            "answer is the first layer below it.",
            variant=lambda: _tanh_layers() - 1,
        ),
    ),
    "standardize": (
        Misconception(
            "own_statistics",
            "you standardise x with its own statistics; new data is "
            "transformed with the training set's, so train and test see the "
            "same map.",
            answer=_standardize(own_statistics=True),
        ),
        Misconception(
            "constant_feature",
            "a constant training feature has standard deviation 0 and your "
            "division gives NaN or infinity there; such a feature is only "
            "centred.",
            answer=_standardize(guard=False),
        ),
        Misconception(
            "unbiased_std",
            "your standard deviation divides by N - 1 (ddof=1); the course "
            "uses the training set's own, np.std's default.",
            answer=_standardize(ddof=1),
        ),
    ),
    "zca_whiten": (
        Misconception(
            "unbiased_covariance",
            "your covariance divides by N - 1; the course whitens with the "
            "training set's own covariance.",
            answer=_whiten(ddof=1),
        ),
        Misconception(
            "pca_whitening",
            "your map rescales the eigen-directions but does not rotate back: "
            "that is PCA whitening. ZCA stays as close as possible to the "
            "original features.",
            answer=_whiten(rotate_back=False),
        ),
        Misconception(
            "own_mean",
            "you centre x with its own mean; new data is centred with the "
            "training mean.",
            answer=_whiten(own_mean=True),
        ),
    ),
    "xavier_lecture": (
        Misconception(
            "fan_out",
            _FAN_OUT,
            answer=_normal_init(lambda shape: 1.0 / math.sqrt(shape[0])),
            matches=_same_spread,
        ),
        Misconception(
            "kernel_size_ignored",
            "your fan-in of a convolution kernel counts the input channels "
            "only; each output sums over the kernel positions too.",
            answer=_normal_init(lambda shape: 1.0 / math.sqrt(shape[1])),
            matches=_same_spread,
        ),
        Misconception(
            "uniform_draw",
            "your weights have the right spread but come from a uniform "
            "distribution; this initializer is a normal one.",
            answer=_normal_init(_xavier_std, uniform=True),
            matches=_same_spread,
        ),
    ),
    "he_normal": (
        Misconception(
            "xavier_spread",
            "your weights have the spread of xavier_lecture: ReLU zeroes half "
            "of the inputs, which He's variance makes up for.",
            answer=_normal_init(_xavier_std),
            matches=_same_spread,
        ),
        Misconception(
            "fan_out",
            _FAN_OUT,
            answer=_normal_init(lambda shape: math.sqrt(2.0 / shape[0])),
            matches=_same_spread,
        ),
    ),
    "activations_and_gradients": (
        Misconception(
            "slope_missing",
            "your backward pass goes through the weights but not through the "
            "activations' slopes.",
            answer=_network_stats(slope=False),
        ),
        Misconception(
            "dW_transposed",
            "your weight gradients have the shape of W transposed: a gradient "
            "has the shape of its variable.",
            answer=_network_stats(transpose=True),
        ),
    ),
    "q_xavier_relu_factor": (
        Misconception(
            "variance_factor",
            "your factor is the one of the variance; the question asks for the "
            "factor of the standard deviation.",
            variant=lambda: 0.5,
            matches=lambda mistake, got: abs(got / mistake - 1.0) <= 0.01,
        ),
    ),
    "orthogonal": (
        Misconception(
            "signs_not_fixed",
            "your matrices are orthogonal but not uniformly distributed: QR "
            "makes the diagonal of R one-signed, which biases Q. Undo that "
            "with the signs of R's diagonal.",
            answer=_orthogonal(sign_fix=False),
        ),
        Misconception(
            "gain_ignored",
            "your rows (or columns) have length 1 whatever the gain.",
            answer=_orthogonal(use_gain=False),
        ),
    ),
}
