"""Input checks that turn bad input into messages a learner can act on.

Every public function validates what it is given with these helpers, so a wrong shape
or dtype is reported as "expected ..., got ..." instead of a numpy traceback.
"""

import numbers

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


def float_array(x, name):
    """Return ``x`` as a float32/float64 ndarray (no copy), or raise a clear error."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(x).__name__}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{name} must be a float32 or float64 array, got dtype {x.dtype}; "
            f"convert it with {name}.astype(np.float64)"
        )
    return x


def ndim(x, n, name, shape_doc):
    """Raise unless ``x`` has ``n`` dimensions; ``shape_doc`` names them, e.g. '(N, D)'."""
    if x.ndim != n:
        raise ValueError(f"{name} must have shape {shape_doc}, got shape {x.shape}")


def same_dtype(arrays):
    """Raise unless all ``(name, array)`` pairs share one float dtype (as PyTorch requires)."""
    (first_name, first), *rest = arrays
    for name, a in rest:
        if a.dtype != first.dtype:
            raise TypeError(
                f"{first_name} is {first.dtype} but {name} is {a.dtype}; "
                f"use one dtype for all arrays (e.g. {name}.astype({first_name}.dtype))"
            )


def shape(a, expected, name, like):
    """Raise unless ``a.shape == expected``, the shape of ``like`` (a name for the message)."""
    if a.shape != tuple(expected):
        raise ValueError(
            f"{name} must have the same shape as {like} {tuple(expected)}, got {a.shape}"
        )


def same_shape(a, b, name_a, name_b):
    """Raise unless ``a`` and ``b`` have the same shape."""
    shape(a, b.shape, name_a, name_b)


def probability(p, name):
    """Return ``p`` as a float in [0, 1], or raise."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"{name} must be a number in [0, 1], got {p!r}")
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {p}")
    return p


def positive(x, name):
    """Return ``x`` as a positive float, or raise."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a positive number, got {x!r}")
    x = float(x)
    if not x > 0:
        raise ValueError(f"{name} must be positive, got {x}")
    return x


def non_negative(x, name):
    """Return ``x`` as a float >= 0 (a weight decay, a minimum learning rate), or raise."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a number >= 0, got {x!r}")
    x = float(x)
    if not x >= 0:
        raise ValueError(f"{name} must be >= 0, got {x}")
    return x


def step_count(x, name, minimum=0):
    """Return ``x`` as an int >= ``minimum`` (a step number, a number of steps), or raise."""
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {x!r}")
    if x < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {x}")
    return int(x)


def labels(y, n_rows, n_classes, name="y"):
    """Check integer class labels ``y`` of shape (N,) with values in [0, C)."""
    if not isinstance(y, np.ndarray):
        raise TypeError(f"{name} must be a numpy array of integer labels, got {type(y).__name__}")
    if y.ndim != 1 or y.shape[0] != n_rows:
        raise ValueError(f"{name} must have shape ({n_rows},) (one label per row), got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(
            f"integer labels {name} must have an integer dtype, got {y.dtype}; "
            f"use {name}.astype(int) (or pass one-hot rows of shape (N, C))"
        )
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        bad = y[(y < 0) | (y >= n_classes)][0]
        raise ValueError(
            f"labels in {name} must be in [0, {n_classes - 1}] for {n_classes} classes, "
            f"got {bad}"
        )
