"""Argument checks shared by every public function.

Every check raises ``ValueError`` or ``TypeError`` with a message that names
the argument, what was expected and what was received, e.g.::

    ValueError: x must be a 4-D array (N, C, H, W), got shape (3, 8)

so that a student who passes the wrong thing learns what to fix without
reading a traceback into the library.
"""

from __future__ import annotations

import numbers

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


def as_float_array(x, name: str) -> np.ndarray:
    """Return ``x`` as a floating-point ndarray without copying float input.

    float32 and float64 arrays pass through unchanged (float32 stays float32
    end to end); integer, boolean and nested-list input becomes float64.
    Complex, object and string input is rejected.
    """
    if isinstance(x, np.ndarray) and x.dtype in FLOAT_DTYPES:
        return x
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(
            f"{name} must be array-like of numbers, got {type(x).__name__}"
        ) from exc
    if arr.dtype in FLOAT_DTYPES:
        return arr
    if arr.dtype == np.float16:
        return arr.astype(np.float32)
    if arr.dtype.kind in "biu":
        return arr.astype(np.float64)
    raise TypeError(
        f"{name} must be a real floating-point array (float32 or float64), "
        f"got dtype {arr.dtype}"
    )


def float_dtype(dtype, name: str = "dtype") -> np.dtype:
    """Return ``dtype`` as a NumPy dtype, raising unless float32 or float64."""
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"{name} must be float32 or float64, got {dtype!r}") from exc
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got {dt}")
    return dt


def check_ndim(x: np.ndarray, name: str, ndim: int | tuple[int, ...], layout: str):
    """Raise ValueError unless ``x.ndim`` is ``ndim`` (or one of them)."""
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if x.ndim not in allowed:
        ranks = " or ".join(f"{d}-D" for d in allowed)
        raise ValueError(
            f"{name} must be a {ranks} array {layout}, got shape {x.shape} ({x.ndim}-D)"
        )


def check_shape(x: np.ndarray, name: str, expected: tuple, why: str = ""):
    """Raise ValueError unless ``x.shape == expected``."""
    if tuple(x.shape) != tuple(expected):
        reason = f" ({why})" if why else ""
        raise ValueError(
            f"{name} must have shape {tuple(expected)}{reason}, got {tuple(x.shape)}"
        )


def check_cache(cache, expected: type, made_by: str):
    """``cache`` itself; TypeError unless it is the ``expected`` record of ``made_by``.

    Every functional forward returns its own cache type, so passing one
    operation's cache to another's backward fails here, not deep inside.
    """
    if not isinstance(cache, expected):
        raise TypeError(
            f"cache must be the {expected.__name__} returned by {made_by}, got "
            f"{type(cache).__name__}"
        )
    return cache


def check_upstream(dout, shape: tuple, made_by: str) -> np.ndarray:
    """``dout`` as a float array, ValueError unless it has the shape of the
    output of ``made_by`` (the forward function): every backward's first check."""
    dout = as_float_array(dout, "dout")
    check_shape(dout, "dout", shape, f"the shape of {made_by}'s output")
    return dout


def check_dim(actual: int, expected: int, what: str):
    """Raise ValueError when two sizes that must agree do not."""
    if actual != expected:
        raise ValueError(f"{what}: expected {expected}, got {actual}")


def positive_int(value, name: str) -> int:
    """Return ``value`` as an int, raising unless it is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be a positive integer, got {value!r} ({type(value).__name__})"
        )
    if value < 1:
        raise ValueError(f"{name} must be a positive integer (>= 1), got {value}")
    return int(value)


def non_negative_int(value, name: str) -> int:
    """Return ``value`` as an int, raising unless it is an integer >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be a non-negative integer, got {value!r} "
            f"({type(value).__name__})"
        )
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer (>= 0), got {value}")
    return int(value)


def int_tuple(value, name: str, n: int, *, allow_zero: bool = False) -> tuple:
    """Expand an int or an ``n``-sequence of ints into an ``n``-tuple.

    Used for ``stride``, ``padding`` and ``kernel_size``: ``2`` means
    ``(2, 2)`` for a 2-D layer. Entries must be >= 1 (>= 0 with
    ``allow_zero``, as for padding).
    """
    check = non_negative_int if allow_zero else positive_int
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ValueError(
                f"{name} must be an int or a sequence of {n} ints, got {value!r}"
            )
        return tuple(check(v, name) for v in value)
    return (check(value, name),) * n


def real_number(value, name: str) -> float:
    """Return ``value`` as a float, raising TypeError for non-numbers."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a real number, got {value!r} ({type(value).__name__})"
        )
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def in_range(
    value,
    name: str,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float, raising unless it lies in the interval.

    ``in_range(rate, "rate", 0, 1, high_open=True)`` accepts [0, 1).
    """
    value = real_number(value, name)
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be in {interval}, got {value}")
    return value


def non_negative(value, name: str) -> float:
    """Return ``value`` as a float, raising unless it is >= 0."""
    value = real_number(value, name)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def positive(value, name: str) -> float:
    """Return ``value`` as a float, raising unless it is > 0."""
    value = real_number(value, name)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def check_rng(rng, name: str = "rng") -> np.random.Generator:
    """Accept a ``numpy.random.Generator`` or an int seed; reject global state.

    The course never draws from NumPy's global random state, so that every
    result can be reproduced from the seed written next to it.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"{name} must be a numpy.random.Generator or an int seed, "
        f"got {rng!r} ({type(rng).__name__})"
    )


def integer_labels(labels, name: str) -> np.ndarray:
    """``labels`` as an integer array; whole-valued floats (``2.0``) are accepted."""
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        if labels.dtype.kind == "f" and np.all(labels == np.round(labels)):
            labels = labels.astype(np.int64)
        else:
            raise TypeError(
                f"{name} must hold integer class labels, got dtype {labels.dtype}"
            )
    return labels


def check_labels(labels, name: str, n_classes: int, n_examples: int) -> np.ndarray:
    """Validate integer class labels in ``[0, n_classes)``, one per example."""
    labels = integer_labels(labels, name)
    if labels.shape != (n_examples,):
        raise ValueError(
            f"{name} must have shape ({n_examples},), one label per example, "
            f"got {labels.shape}"
        )
    if labels.size:
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= n_classes:
            bad = low if low < 0 else high
            raise ValueError(
                f"{name} must be in [0, {n_classes - 1}] for {n_classes} classes, "
                f"got {bad}"
            )
    return labels.astype(np.intp, copy=False)


def by_name(registry: dict, name: str, what: str, otherwise: str = ""):
    """``registry[name]``, the name taken case-insensitively.

    Unknown names raise ValueError listing the known ones, e.g. ``optimizer
    must be one of ['adam', 'sgd'], got 'adamw'``; ``otherwise`` says what
    else the caller accepts, e.g. ``" or a callable"``.
    """
    found = registry.get(name.lower())
    if found is None:
        raise ValueError(
            f"{what} must be one of {sorted(registry)}{otherwise}, got {name!r}"
        )
    return found
