"""Shared helpers for the tests of the math (layers, losses, optim, gradcheck, nn).

Everything here is written independently of the code under test, so that a test built on
these helpers does not rest only on ``bpcourse.gradcheck``.
"""

import copy
import numbers
import warnings
from contextlib import contextmanager

import numpy as np

from bpcourse import gradcheck

# Non-square shapes, all different: a transpose or a wrong axis cannot go unnoticed.
N, D, M = 5, 4, 3
SEEDS = [0, 1, 2]
DTYPES = [np.float32, np.float64]
TOL = 1e-7  # relative error of a float64 gradient check


def upstream(rng, shape):
    """A random, non-trivial upstream gradient G (never all ones, no zero entry)."""
    G = rng.normal(size=shape)
    G += np.sign(G) * 0.1  # keep every entry away from 0
    return G


def independent_numerical_gradient(f, x, h=1e-5):
    """Centred differences, written here so that a check does not only trust gradcheck."""
    x = np.array(x, dtype=np.float64, copy=True)
    grad = np.empty_like(x)
    for idx in np.ndindex(*x.shape):
        old = x[idx]
        x[idx] = old + h
        f_plus = float(f(x))
        x[idx] = old - h
        f_minus = float(f(x))
        x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad


def independent_rel_error(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    denom = np.sqrt((a * a).sum()) + np.sqrt((b * b).sum())
    return 0.0 if denom == 0 else float(np.sqrt(((a - b) ** 2).sum()) / denom)


def assert_gradient(analytic, f, x, what, tol=TOL):
    """Check ``analytic`` against bpcourse's numerical gradient of ``f`` at ``x``."""
    assert x.dtype == np.float64
    numeric = gradcheck.numerical_gradient(f, x)
    assert analytic.shape == x.shape, f"{what}: shape {analytic.shape}, expected {x.shape}"
    err = gradcheck.rel_error(analytic, numeric)
    assert err <= tol, f"{what}: relative error {err:.3e} > {tol:.0e}"
    return numeric


def assert_gradient_independently(analytic, f, x, what, tol=TOL):
    """Same check, with the numerical gradient and relative error written in this file."""
    numeric = independent_numerical_gradient(f, x)
    assert analytic.shape == x.shape, f"{what}: shape {analytic.shape}, expected {x.shape}"
    err = independent_rel_error(analytic, numeric)
    assert err <= tol, f"{what}: relative error {err:.3e} > {tol:.0e} (independent check)"
    return numeric


def arrays_in(obj):
    """Every ndarray in a (nested) tuple / list / dict, in order."""
    if isinstance(obj, np.ndarray):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for item in obj:
            yield from arrays_in(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from arrays_in(item)


def assert_same(before, after, path="args"):
    """Recursively assert that arrays (values, dtype, shape) and numbers are unchanged.

    Other objects (e.g. a numpy Generator, whose state is meant to advance) are ignored.
    """
    if isinstance(before, np.ndarray):
        assert isinstance(after, np.ndarray), path
        assert after.dtype == before.dtype, f"{path}: dtype changed {before.dtype} -> {after.dtype}"
        assert after.shape == before.shape, f"{path}: shape changed"
        assert np.array_equal(after, before, equal_nan=True), f"{path} was modified in place"
    elif isinstance(before, (tuple, list)):
        assert len(after) == len(before), path
        for i, (b, a) in enumerate(zip(before, after)):
            assert_same(b, a, f"{path}[{i}]")
    elif isinstance(before, dict):
        for k in before:
            assert_same(before[k], after[k], f"{path}[{k!r}]")
    elif isinstance(before, numbers.Number):
        assert after == before, path


def call_pure(fn, *args, **kwargs):
    """Call ``fn`` and assert that it modified none of its (array) arguments."""
    saved = copy.deepcopy((args, kwargs))
    result = fn(*args, **kwargs)
    assert_same(saved, (args, kwargs), f"{getattr(fn, '__name__', fn)} arguments")
    return result


def assert_dtype(result, dtype, what):
    arrays = list(arrays_in(result))
    assert arrays, f"{what} returned no array"
    for i, a in enumerate(arrays):
        assert a.dtype == dtype, f"{what}: returned array #{i} is {a.dtype}, expected {np.dtype(dtype)}"


@contextmanager
def no_warnings():
    """Turn every warning (numpy overflow / invalid / divide included) into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="warn", invalid="warn", divide="warn"):
            yield
