"""Numerical gradients, the ground truth every backward pass in the course is checked against."""

import warnings

import numpy as np

from . import _validate as check


def numerical_gradient(f, x, h=1e-5):
    """Centred differences: grad[i] = (f(x + h·eᵢ) − f(x − h·eᵢ)) / (2h) for every entry i.

    ``f`` maps an array shaped like ``x`` to a scalar; ``x`` is not modified (f sees a copy).
    The error is O(h²); use float64, where h = 1e-5 gives about 10 correct digits.
    Returns an array shaped like ``x``.
    """
    check.float_array(x, "x")
    h = check.positive(h, "h")
    if x.dtype != np.float64:
        warnings.warn(
            f"numerical gradients in {x.dtype} are inaccurate; check gradients in float64",
            stacklevel=2,
        )
    xp = x.copy(order="C")
    grad = np.zeros(x.shape, dtype=x.dtype)  # C order, whatever x's layout: reshape gives views
    flat, gflat = xp.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + h
        f_plus = _scalar(f(xp))
        flat[i] = original - h
        f_minus = _scalar(f(xp))
        flat[i] = original
        gflat[i] = (f_plus - f_minus) / (2 * h)
    return grad


def rel_error(a, b):
    """Relative error ‖a − b‖ / (‖a‖ + ‖b‖) of two same-shaped arrays (0.0 when both are 0).

    For a gradient check in float64: below 1e-7 is right, around 1e-4 is suspicious
    (a kink, or float32), above 1e-2 is a wrong gradient.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    check.same_shape(a, b, "a", "b")
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def _scalar(value):
    value = np.asarray(value)
    if value.size != 1:
        raise ValueError(f"f must return a scalar (e.g. the loss), got an array of shape {value.shape}")
    return float(value.reshape(()))
