"""dlcore.data: the digits split (shapes, dtypes, determinism, a partition of
the data set, class balance, values in [0, 1]), one_hot and the synthetic
sets."""

import math

import numpy as np
import pytest
from sklearn import datasets

from dlcore import data


@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


def _rows(x, y):
    """Examples as sortable rows (grey levels 0-16 as ints, then the label)."""
    flat = np.rint(x.reshape(len(x), -1) * 16).astype(np.int64)
    return np.column_stack([flat, y])


def _sorted_rows(rows):
    return rows[np.lexsort(rows.T[::-1])]


def test_digits_shapes_and_dtypes(digits):
    x_train, y_train, x_val, y_val, x_test, y_test = digits
    assert x_train.shape == (1077, 1, 8, 8)
    assert x_val.shape == (360, 1, 8, 8)
    assert x_test.shape == (360, 1, 8, 8)
    assert (y_train.shape, y_val.shape, y_test.shape) == ((1077,), (360,), (360,))
    for x in (x_train, x_val, x_test):
        assert x.dtype == np.float64
    for y in (y_train, y_val, y_test):
        assert y.dtype == np.int64
    assert digits.n_classes == 10
    assert "train=(1077, 1, 8, 8)" in repr(digits)


def test_digits_flat_and_float32(digits):
    flat = data.load_digits(flat=True, dtype=np.float32)
    assert flat.x_train.shape == (1077, 64)
    assert flat.x_train.dtype == np.float32
    np.testing.assert_array_equal(flat.x_train, digits.x_train.reshape(1077, 64))
    np.testing.assert_array_equal(flat.y_test, digits.y_test)


def test_digits_values_in_unit_interval(digits):
    for x in (digits.x_train, digits.x_val, digits.x_test):
        assert x.min() == 0.0 and x.max() == 1.0
        np.testing.assert_array_equal(x * 16, np.rint(x * 16))  # k / 16 exactly


def test_digits_splits_partition_the_data_set(digits):
    """Together the three sets are exactly scikit-learn's 1797 examples."""
    original = datasets.load_digits()
    everything = _sorted_rows(
        np.concatenate(
            [
                _rows(digits.x_train, digits.y_train),
                _rows(digits.x_val, digits.y_val),
                _rows(digits.x_test, digits.y_test),
            ]
        )
    )
    reference = _sorted_rows(_rows(original.images / 16.0, original.target))
    np.testing.assert_array_equal(everything, reference)


def test_digits_splits_are_stratified(digits):
    counts = np.bincount(datasets.load_digits().target)
    for y, size in ((digits.y_val, 360), (digits.y_test, 360)):
        per_class = np.bincount(y, minlength=10)
        quota = size * counts / counts.sum()
        assert np.all(np.abs(per_class - quota) < 1.0 + 1e-9), per_class
    train = np.bincount(digits.y_train, minlength=10)
    assert np.all(np.abs(train - 1077 * counts / counts.sum()) < 2.0)


def test_digits_deterministic_per_seed(digits):
    again = data.load_digits()
    for a, b in zip(digits, again, strict=True):
        np.testing.assert_array_equal(a, b)
    other = data.load_digits(seed=1)
    assert not np.array_equal(other.x_test, digits.x_test)


def test_digits_custom_sizes():
    d = data.load_digits(n_val=0, n_test=297, flat=True)
    assert d.x_val.shape == (0, 64) and d.y_val.shape == (0,)
    assert len(d.x_train) == 1500 and len(d.x_test) == 297
    with pytest.raises(ValueError, match="n_val \\+ n_test"):
        data.load_digits(n_val=1000, n_test=797)
    with pytest.raises(ValueError, match="n_val"):
        data.load_digits(n_val=-1)
    with pytest.raises(TypeError, match="seed"):
        data.load_digits(seed=1.5)
    with pytest.raises(TypeError, match="dtype"):
        data.load_digits(dtype=np.int64)
    with pytest.raises(TypeError, match="flat"):
        data.load_digits(flat="yes")


def test_one_hot():
    np.testing.assert_array_equal(
        data.one_hot([2, 0, 1], 3), [[0, 0, 1], [1, 0, 0], [0, 1, 0]]
    )
    encoded = data.one_hot(np.array([0, 4]), dtype=np.float32)
    assert encoded.shape == (2, 5) and encoded.dtype == np.float32
    with pytest.raises(ValueError, match=r"\[0, 2\].*got 3"):
        data.one_hot([0, 3], 3)
    with pytest.raises(ValueError, match="-1"):
        data.one_hot([0, -1], 3)
    with pytest.raises(TypeError, match="integer"):
        data.one_hot([0.5, 1.0], 3)
    with pytest.raises(ValueError, match="1-D"):
        data.one_hot([[0, 1]], 3)


def test_spirals():
    x, y = data.spirals(n_per_class=50, n_classes=4, noise=0.1, seed=3)
    assert x.shape == (200, 2) and x.dtype == np.float64
    assert y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y), [50] * 4)
    radius = np.linalg.norm(x, axis=1)
    np.testing.assert_allclose(radius, np.tile(np.linspace(0, 1, 50), 4), atol=1e-12)
    again_x, again_y = data.spirals(n_per_class=50, n_classes=4, noise=0.1, seed=3)
    np.testing.assert_array_equal(x, again_x)
    np.testing.assert_array_equal(y, again_y)
    assert not np.array_equal(x, data.spirals(50, 4, 0.1, seed=4)[0])
    # Without noise, arm j's last point is at angle 4 (j + 1).
    clean, _ = data.spirals(n_per_class=10, n_classes=3, noise=0.0)
    np.testing.assert_allclose(clean[19], [math.sin(8.0), math.cos(8.0)])
    assert data.spirals(dtype=np.float32)[0].dtype == np.float32
    with pytest.raises(ValueError, match="noise"):
        data.spirals(noise=-0.1)
    with pytest.raises(ValueError, match="n_classes"):
        data.spirals(n_classes=0)


def test_xor():
    x, y = data.xor(n=402, noise=0.1, seed=5)
    assert x.shape == (402, 2) and y.shape == (402,) and y.dtype == np.int64
    # XOR of the signs: label 1 where the coordinates disagree.
    np.testing.assert_array_equal(y, (np.sign(x[:, 0]) != np.sign(x[:, 1])))
    assert abs(np.sum(y == 1) - np.sum(y == 0)) <= 2
    np.testing.assert_array_equal(x, data.xor(n=402, noise=0.1, seed=5)[0])
    assert not np.array_equal(x, data.xor(n=402, noise=0.1, seed=6)[0])
    # The blob spread is the noise.
    centred = x - np.sign(x)
    assert centred.std() == pytest.approx(0.1, rel=0.1)
    # No line separates the classes: the best least-squares fit is chance.
    design = np.column_stack([x, np.ones(len(x))])
    w = np.linalg.lstsq(design, 2.0 * y - 1, rcond=None)[0]
    assert np.mean((design @ w > 0) == y) < 0.65
    with pytest.raises(TypeError, match="n must be"):
        data.xor(n=10.0)


def test_regression_1d():
    x, y = data.regression_1d(n=100, seed=0)
    assert x.shape == (100, 1) and y.shape == (100, 1)
    assert np.all(np.diff(x[:, 0]) >= 0)
    assert -math.pi <= x.min() and x.max() < math.pi
    np.testing.assert_allclose(y, np.sin(x), atol=1e-15)
    noisy_x, noisy_y = data.regression_1d(n=2000, seed=0, noise=0.2)
    assert (noisy_y - np.sin(noisy_x)).std() == pytest.approx(0.2, rel=0.1)
    x, y = data.regression_1d(n=50, function="step", x_range=(-1, 1), seed=2)
    np.testing.assert_array_equal(y[:, 0], (x[:, 0] > 0).astype(float))
    x, y = data.regression_1d(n=50, function="sinc", seed=2)
    np.testing.assert_allclose(y, np.sin(x) / x)
    x, y = data.regression_1d(n=20, function=lambda t: t**3, seed=1)
    np.testing.assert_allclose(y, x**3)
    np.testing.assert_array_equal(x, data.regression_1d(n=20, seed=1)[0])
    assert data.regression_1d(dtype=np.float32)[1].dtype == np.float32
    with pytest.raises(ValueError, match="function"):
        data.regression_1d(function="tan")
    with pytest.raises(ValueError, match="x_range"):
        data.regression_1d(x_range=(1.0, -1.0))
    with pytest.raises(ValueError, match="noise"):
        data.regression_1d(noise=-1.0)
