"""Data sets for the course: the 8x8 digits and small synthetic problems.

Nothing is downloaded. :func:`load_digits` reads the copy of the UCI
handwritten digits that ships inside scikit-learn; the synthetic sets are
generated from a seed, so every notebook and test sees the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._validation import (
    check_rng,
    float_dtype,
    integer_labels,
    non_negative,
    non_negative_int,
    positive_int,
    real_number,
)

__all__ = [
    "Digits",
    "load_digits",
    "one_hot",
    "spirals",
    "xor",
    "regression_1d",
]


def _seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {seed!r} ({type(seed).__name__})")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return int(seed)


@dataclass(frozen=True)
class Digits:
    """The digits split into training, validation and test sets.

    Unpacks in that order, so both styles work::

        data = load_digits()
        data.x_train, data.y_train
        x_train, y_train, x_val, y_val, x_test, y_test = load_digits()

    Attributes
    ----------
    x_train, x_val, x_test : ndarray
        Images ``(N, 1, 8, 8)`` (or ``(N, 64)`` if loaded with ``flat=True``),
        values in [0, 1].
    y_train, y_val, y_test : ndarray of int64
        Labels 0-9, ``(N,)``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    n_classes = 10

    def __iter__(self):
        yield from (
            self.x_train,
            self.y_train,
            self.x_val,
            self.y_val,
            self.x_test,
            self.y_test,
        )

    def __repr__(self) -> str:
        return (
            f"Digits(train={self.x_train.shape}, val={self.x_val.shape}, "
            f"test={self.x_test.shape}, dtype={self.x_train.dtype})"
        )


def _stratified_split(labels, n_take, rng):
    """Indices ``(taken, rest)`` with ``n_take`` examples, classes in proportion.

    Each class contributes ``n_take * n_c / N`` examples rounded down; the
    examples left over go to the classes with the largest remainders (ties
    broken by class index), so the sizes are exact and deterministic.
    """
    classes, counts = np.unique(labels, return_counts=True)
    quota = n_take * counts / counts.sum()
    take = np.floor(quota).astype(int)
    leftover = n_take - take.sum()
    order = np.lexsort((classes, -(quota - take)))
    take[order[:leftover]] += 1
    taken = []
    for c, k in zip(classes, take, strict=True):
        members = np.flatnonzero(labels == c)
        taken.append(rng.permutation(members)[:k])
    taken = np.sort(np.concatenate(taken))
    rest = np.setdiff1d(np.arange(labels.size), taken)
    return taken, rest


def load_digits(
    flat: bool = False,
    seed: int = 0,
    n_val: int = 360,
    n_test: int = 360,
    dtype=np.float64,
) -> Digits:
    """scikit-learn's 8x8 handwritten digits, scaled to [0, 1] and split.

    The 1797 images (about 180 per digit, grey levels 0-16) are divided by
    16 and split, stratified by digit, into

    ==========  ======  =============================
    set         size    use
    ==========  ======  =============================
    train       1077    fitting the weights
    validation  360     early stopping, model choice
    test        360     the final number, used once
    ==========  ======  =============================

    (60/20/20; train plus validation is scikit-learn's usual 1437-image
    training split). The split depends only on ``seed``: each digit's
    images are shuffled by ``numpy.random.default_rng(seed)`` and dealt out
    in proportion to the digit's frequency, and each set keeps the
    original order of the images.

    Parameters
    ----------
    flat : bool
        ``(N, 64)`` vectors for dense networks instead of ``(N, 1, 8, 8)``
        images for convolutions.
    seed : int
        Seed of the split.
    n_val, n_test : int
        Sizes of the validation and test sets (0 for none); together less
        than 1797.
    dtype : float32 or float64
        Dtype of the images; labels are always int64.

    Returns
    -------
    Digits
        ``x_train, y_train, x_val, y_val, x_test, y_test`` (also unpackable).
    """
    from sklearn import datasets  # imported here: `import dlcore` stays light

    if not isinstance(flat, (bool, np.bool_)):
        raise TypeError(f"flat must be True or False, got {flat!r}")
    rng = np.random.default_rng(_seed(seed))
    n_val = non_negative_int(n_val, "n_val")
    n_test = non_negative_int(n_test, "n_test")
    dtype = float_dtype(dtype)

    digits = datasets.load_digits()
    images = (digits.images / 16.0).astype(dtype)
    labels = digits.target.astype(np.int64)
    n = labels.size
    if n_val + n_test >= n:
        raise ValueError(
            f"n_val + n_test must be < {n} (the number of images) to leave a "
            f"training set, got n_val={n_val}, n_test={n_test}"
        )
    x = images.reshape(n, 64) if flat else images.reshape(n, 1, 8, 8)

    test, rest = _stratified_split(labels, n_test, rng)
    val_in_rest, train_in_rest = _stratified_split(labels[rest], n_val, rng)
    val, train = rest[val_in_rest], rest[train_in_rest]
    return Digits(x[train], labels[train], x[val], labels[val], x[test], labels[test])


def one_hot(labels, n_classes: int | None = None, dtype=np.float64) -> np.ndarray:
    """Encode integer labels ``(N,)`` as rows of the identity, ``(N, n_classes)``.

    ``one_hot([2, 0], 3)`` is ``[[0, 0, 1], [1, 0, 0]]``. ``n_classes``
    defaults to ``max(labels) + 1``.
    """
    labels = integer_labels(labels, "labels")
    if labels.ndim != 1:
        raise ValueError(f"labels must be a 1-D array (N,), got shape {labels.shape}")
    if n_classes is None:
        if labels.size == 0:
            raise ValueError("n_classes is needed when labels is empty")
        n_classes = int(labels.max()) + 1
    n_classes = positive_int(n_classes, "n_classes")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        bad = labels.min() if labels.min() < 0 else labels.max()
        raise ValueError(
            f"labels must be in [0, {n_classes - 1}] for n_classes={n_classes}, "
            f"got {bad}"
        )
    out = np.zeros((labels.size, n_classes), dtype=float_dtype(dtype))
    out[np.arange(labels.size), labels] = 1
    return out


def spirals(
    n_per_class: int = 100,
    n_classes: int = 3,
    noise: float = 0.2,
    seed: int = 0,
    dtype=np.float64,
):
    r"""Interleaved spiral arms in the plane, one per class (CS231n's toy set).

    Arm :math:`j` has points at radius :math:`r_i = i / (n - 1)` going
    from 0 to 1 and angle :math:`\theta_i = 4 (j + r_i) + \varepsilon_i`,
    :math:`\varepsilon_i \sim \mathcal{N}(0, \mathrm{noise}^2)`;
    :math:`x_i = (r_i \sin\theta_i, r_i \cos\theta_i)`. A linear classifier
    gets about a third right; a small hidden layer separates the arms.

    Returns
    -------
    x : ndarray, (n_per_class * n_classes, 2)
    y : ndarray of int64, (n_per_class * n_classes,)
        Class by class, in order (shuffle before mini-batching).
    """
    n_per_class = positive_int(n_per_class, "n_per_class")
    n_classes = positive_int(n_classes, "n_classes")
    noise = non_negative(noise, "noise")
    rng = check_rng(_seed(seed), "seed")
    dtype = float_dtype(dtype)
    x = np.empty((n_per_class * n_classes, 2))
    y = np.empty(n_per_class * n_classes, dtype=np.int64)
    radius = np.linspace(0.0, 1.0, n_per_class)
    for j in range(n_classes):
        rows = slice(j * n_per_class, (j + 1) * n_per_class)
        theta = np.linspace(4.0 * j, 4.0 * (j + 1), n_per_class)
        theta = theta + noise * rng.standard_normal(n_per_class)
        x[rows] = np.column_stack([radius * np.sin(theta), radius * np.cos(theta)])
        y[rows] = j
    return x.astype(dtype, copy=False), y


def xor(n: int = 200, noise: float = 0.25, seed: int = 0, dtype=np.float64):
    """Four Gaussian blobs in the XOR layout: the classic non-linearly-separable set.

    Blobs of standard deviation ``noise`` are centred at ``(+-1, +-1)``; the
    label is 1 where the two coordinates have different signs (the XOR of
    the two "bits") and 0 where they agree. No line separates the classes;
    one hidden layer of two units can (lecture 003).

    Returns
    -------
    x : ndarray, (n, 2)
    y : ndarray of int64, (n,)
        The ``n`` points are dealt to the blobs in turn (so blob sizes
        differ by at most one) and then shuffled.
    """
    n = positive_int(n, "n")
    noise = non_negative(noise, "noise")
    rng = check_rng(_seed(seed), "seed")
    dtype = float_dtype(dtype)
    centres = np.array([[-1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [1.0, -1.0]])
    blob_labels = np.array([0, 0, 1, 1], dtype=np.int64)
    blob = np.arange(n) % 4
    x = centres[blob] + noise * rng.standard_normal((n, 2))
    y = blob_labels[blob]
    order = rng.permutation(n)
    return x[order].astype(dtype, copy=False), y[order]


_FUNCTIONS = {
    "sin": np.sin,
    "cos": np.cos,
    "abs": np.abs,
    "square": np.square,
    "step": lambda x: (x > 0).astype(float),
    "sinc": lambda x: np.sinc(x / math.pi),
}


def regression_1d(
    n: int = 200,
    seed: int = 0,
    function="sin",
    noise: float = 0.0,
    x_range: tuple[float, float] = (-math.pi, math.pi),
    dtype=np.float64,
):
    r"""Samples of a 1-D function, for universal-approximation demos.

    :math:`x_i \sim U(a, b)` sorted increasingly, :math:`y_i = f(x_i) +
    \varepsilon_i`, :math:`\varepsilon_i \sim \mathcal{N}(0, \mathrm{noise}^2)`.

    Parameters
    ----------
    n : int
        Number of samples.
    seed : int
        Seed of the samples and the noise.
    function : str or callable
        ``"sin"``, ``"cos"``, ``"abs"`` (a kink), ``"square"``, ``"step"``
        (a jump: 0 for :math:`x \le 0`, 1 after), ``"sinc"``
        (:math:`\sin x / x`), or a vectorised function of ``x``.
    noise : float
        Standard deviation of the additive Gaussian noise, >= 0.
    x_range : (float, float)
        The interval :math:`[a, b)`, default :math:`[-\pi, \pi)`.
    dtype : float32 or float64

    Returns
    -------
    x, y : ndarray, (n, 1)
        Column vectors, the shape a network with one input and one output
        expects.
    """
    n = positive_int(n, "n")
    rng = check_rng(_seed(seed), "seed")
    noise = non_negative(noise, "noise")
    dtype = float_dtype(dtype)
    if isinstance(function, str):
        if function not in _FUNCTIONS:
            raise ValueError(
                f"function must be one of {sorted(_FUNCTIONS)} or a callable, "
                f"got {function!r}"
            )
        f = _FUNCTIONS[function]
    elif callable(function):
        f = function
    else:
        raise TypeError(
            f"function must be a name or a callable, got {type(function).__name__}"
        )
    if not isinstance(x_range, (tuple, list)) or len(x_range) != 2:
        raise ValueError(f"x_range must be a pair (low, high), got {x_range!r}")
    low = real_number(x_range[0], "x_range[0]")
    high = real_number(x_range[1], "x_range[1]")
    if not low < high:
        raise ValueError(f"x_range must have low < high, got {x_range!r}")
    x = np.sort(rng.uniform(low, high, size=n))
    y = np.asarray(f(x), dtype=np.float64)
    if y.shape != x.shape:
        raise ValueError(
            f"function must map an (n,) array to an (n,) array, got shape {y.shape}"
        )
    y = y + noise * rng.standard_normal(n)
    return (
        x.reshape(n, 1).astype(dtype, copy=False),
        y.reshape(n, 1).astype(dtype, copy=False),
    )
