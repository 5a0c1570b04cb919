"""Small input checks shared by the data modules.

Each one turns a bad argument into a message that says what was expected and what was
given, instead of letting numpy fail somewhere deeper with a traceback.
"""

import numbers

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


def rng_from(seed, name="seed", allow_none=False):
    """Return a ``numpy.random.Generator`` from an int seed or an existing Generator.

    ``None`` is accepted only when ``allow_none`` (it then means fresh OS entropy).
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None and allow_none:
        return np.random.default_rng()
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        allowed = "an int, a numpy.random.Generator" + (" or None" if allow_none else "")
        raise TypeError(f"{name} must be {allowed}, got {seed!r}")
    if seed < 0:
        raise ValueError(f"{name} must be a non-negative int, got {seed}")
    return np.random.default_rng(int(seed))


def float_dtype(dtype, name="dtype"):
    """Return ``dtype`` as ``np.dtype`` if it is float32 or float64, else raise."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in [np.dtype(d) for d in FLOAT_DTYPES]:
        raise TypeError(f"{name} must be np.float32 or np.float64, got {dtype!r}")
    return dt


def positive_int(n, name, minimum=1):
    """Return ``n`` as an int >= ``minimum``, else raise."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{name} must be an int >= {minimum}, got {n!r}")
    if n < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {n}")
    return int(n)


def non_negative(x, name):
    """Return ``x`` as a float >= 0, else raise."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a number >= 0, got {x!r}")
    if not np.isfinite(x) or x < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {x}")
    return float(x)


def array(x, name):
    """Raise unless ``x`` is a numpy array."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(x).__name__}")
    return x
