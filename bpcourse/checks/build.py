"""Small helpers the exercise modules use to write test cases as data."""

import numpy as np

from ..gradcheck import numerical_gradient


def call(fn, *args):
    """A driver call: ``fn(*args)`` on the learner's functions."""
    return {"fn": fn, "args": list(args)}


def cache(*parts):
    """A cache argument (a tuple) as the reference forward builds it."""
    return {"tuple": list(parts)}


def cache_of(forward, *args):
    """The learner's own cache: the second output of their ``forward(*args)``."""
    return {"cache_of": call(forward, *args)}


def normal(rng, shape, dtype=np.float64, scale=1.0):
    return (rng.normal(0.0, scale, size=shape)).astype(dtype)


def sizes(rng, k, low=2, high=8):
    """``k`` distinct sizes in [low, high), so that shapes are never square by accident."""
    return [int(s) for s in rng.choice(np.arange(low, high), size=k, replace=False)]


def ok(*values, tuple_=True, warnings=()):
    """An expected result holding ``values`` (arrays or floats), as the driver packs them."""
    from .driver import pack

    return {"status": "ok", "error": None, "warnings": list(warnings), "printed": "",
            "returned": pack(tuple(values) if tuple_ else values[0]), "arrays_after": [],
            "dicts_changed": []}


def backward_calls(backward, forward, forward_args, ref_cache, dout, given):
    """The calls of a backward test: with the documented cache, and (when the learner
    gave their forward) with the cache of their own forward."""
    calls = [call(backward, dout, ref_cache)]
    if forward in given:
        calls.append(call(backward, dout, cache_of(forward, *forward_args)))
    return calls


def numerical_grads(loss, arrays):
    """Centred numerical gradients of ``loss(*arrays)`` with respect to each array (float64)."""
    grads = []
    for i in range(len(arrays)):
        def f(x, i=i):
            args = list(arrays)
            args[i] = x
            return loss(*args)
        grads.append(numerical_gradient(f, arrays[i]))
    return grads


def spec(value):
    """A Python structure (lists, tuples, dicts of arrays and numbers) as a driver argument
    spec: what the learner's function receives is built from it, fresh for every call."""
    if isinstance(value, tuple):
        return {"tuple": [spec(v) for v in value]}
    if isinstance(value, list):
        return {"list": [spec(v) for v in value]}
    if isinstance(value, dict):
        return {"dict": [[k, spec(v)] for k, v in value.items()]}
    return value
