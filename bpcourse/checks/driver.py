"""Calls a learner's function on a check's inputs and packs what came back.

A *call* is plain data: ``{"fn": name, "args": [arg, ...]}`` where an arg is a value
(an array, a number, a string, None) or a tagged dict:

- ``{"tuple": [arg, ...]}``          a tuple (e.g. a cache built by the reference forward);
- ``{"rng": seed}``                  ``numpy.random.default_rng(seed)``;
- ``{"function": name, "params": {...}, "shape": [...]}``  a test function of
                                     ``TEST_FUNCTIONS`` of an x of that shape;
- ``{"cache_of": call}``             the cache (second output) of another call, e.g. the
                                     learner's own forward, for their backward.

``run_calls`` returns, per call, what happened: the outputs, any error, warnings, and the
array arguments as they were after the call (to catch in-place modification).

This module imports only numpy and the standard library: the grader loads it by path in
the sandboxed process that runs untrusted code, where ``bpcourse`` is not importable.
"""

import contextlib
import io
import os
import threading
import traceback
import warnings

import numpy as np


# ---------------------------------------------------------------- test functions for gradients

def _quadratic(params):
    a, b = params["a"], params["b"]
    return lambda x: float(np.sum(a * x * x) + np.sum(b * x))


def _bilinear(params):
    A = params["A"]  # couples every entry with every other: not separable
    return lambda x: float(x.reshape(-1) @ A @ x.reshape(-1))


def _logsumexp(params):
    B = params["B"]

    def f(x):
        s = B @ x.reshape(-1)
        m = s.max()
        return float(m + np.log(np.exp(s - m).sum()))

    return f


def _sin_product(params):
    c = params["c"]
    return lambda x: float(np.sum(np.sin(c * x) * np.roll(x, 1)))


TEST_FUNCTIONS = {
    "quadratic": _quadratic,
    "bilinear": _bilinear,
    "logsumexp": _logsumexp,
    "sin_product": _sin_product,
}


def _shape_checked(f, shape):
    """f, refusing an x of another shape (as a real loss would)."""
    def checked(x):
        if not isinstance(x, np.ndarray) or x.shape != shape:
            got = x.shape if isinstance(x, np.ndarray) else type(x).__name__
            raise ValueError(f"f expects x of shape {shape} (the shape of the x you were "
                             f"given), got {got}")
        return f(x)
    return checked


# ---------------------------------------------------------------- running calls

class _MissingCache(Exception):
    pass


_CAPTURE = threading.RLock()


def _build(arg, functions, arrays):
    """Turn an argument spec into the value passed to the learner's function."""
    if isinstance(arg, np.ndarray):
        copy = np.array(arg, copy=True)  # the learner gets a fresh array; we keep a handle
        arrays.append(copy)
        return copy
    if isinstance(arg, dict):
        if "tuple" in arg:
            return tuple(_build(a, functions, arrays) for a in arg["tuple"])
        if "rng" in arg:
            return np.random.default_rng(arg["rng"])
        if "function" in arg:
            params = {k: np.array(v, copy=True) for k, v in arg["params"].items()}
            return _shape_checked(TEST_FUNCTIONS[arg["function"]](params), tuple(arg["shape"]))
        if "cache_of" in arg:
            result = _call(functions, arg["cache_of"])
            out = result.get("value")
            if result["status"] != "ok" or not isinstance(out, tuple) or len(out) != 2:
                raise _MissingCache(arg["cache_of"]["fn"])
            return out[1]
        raise ValueError(f"unknown argument spec {sorted(arg)}")
    return arg


def _call(functions, call):
    """Run one call; returns a dict with status, value (raw), error text, warnings, arrays."""
    fn = functions.get(call["fn"])
    if fn is None or not callable(fn):
        return _result("missing", f"no function named {call['fn']}")
    arrays = []
    try:
        args = [_build(a, functions, arrays) for a in call["args"]]
    except _MissingCache as e:
        return _result("no_cache", f"your {e.args[0]} did not return (out, cache)")
    printed = io.StringIO()
    # sys.stdout and the warnings filters are process-wide: one call at a time captures them
    # (the grader judges in several threads).
    with _CAPTURE, warnings.catch_warnings(record=True) as caught, \
            np.errstate(all="warn", under="ignore"), contextlib.redirect_stdout(printed):
        warnings.simplefilter("always")
        try:
            value = fn(*args)
            status, error = "ok", None
        except NotImplementedError as e:
            status, error, value = "not_implemented", str(e), None
        except Exception as e:  # the learner's bug: reported, never raised
            status, error, value = "error", _describe(e), None
    warned = sorted({f"{w.category.__name__}: {w.message}"[:300] for w in caught})[:10]
    return _result(status, error, value, warned, printed.getvalue()[:MAX_TEXT], arrays)


MAX_TEXT = 2000  # characters kept of an error or of what the function printed


def _result(status, error=None, value=None, warned=(), printed="", arrays=()):
    return {"status": status, "value": value, "error": None if error is None else error[:MAX_TEXT],
            "warnings": list(warned), "printed": printed, "arrays_after": list(arrays)}


_LIBRARY = os.path.dirname(os.__file__)  # the standard library


def _describe(exc):
    """'ValueError: message (line 3 of dense_forward: Z = X @ W.T + b)', at the learner's line."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if "numpy" not in f.filename and f.filename != __file__
              and not f.filename.startswith(("<frozen", _LIBRARY))]
    text = f"{type(exc).__name__}: {exc}"
    if frames:
        last = frames[-1]
        where = f"line {last.lineno} of {last.name}"
        text += f" ({where}: {last.line.strip()})" if last.line else f" ({where})"
    return text


def pack(value):
    """What a function returned, as plain data: a list of items and whether it was a tuple.

    An item is ``{"kind": "array", "value": ndarray}``, ``{"kind": "float", "value": float}``,
    ``{"kind": "tuple", "items": [...]}`` (one level: a cache) or ``{"kind": "other", "type": name}``.  Only a plain ``numpy.ndarray`` counts as an
    array (a subclass is "other"); a Python float, a numpy floating scalar or a 0-d float
    array counts as a float.
    """
    is_tuple = isinstance(value, tuple)
    items = value if is_tuple else (value,)
    return {"tuple": is_tuple, "items": [_pack_item(v) for v in items]}


def _pack_item(v, nested=True):
    if type(v) is tuple and nested:  # a cache: packed one level deep
        return {"kind": "tuple", "items": [_pack_item(x, nested=False) for x in v]}
    if type(v) is np.ndarray and v.ndim == 0 and v.dtype.kind == "f":
        return {"kind": "float", "value": float(v), "type": f"0-d {v.dtype} array"}
    if type(v) is np.ndarray:
        if v.dtype.kind in "biufc":
            return {"kind": "array", "value": np.array(v, copy=True)}
        return {"kind": "other", "type": f"ndarray of dtype {v.dtype}"}
    if type(v) is float or isinstance(v, np.floating):
        return {"kind": "float", "value": float(v), "type": type(v).__name__}
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return {"kind": "float", "value": float(v), "type": type(v).__name__}
    t = type(v)
    name = t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
    return {"kind": "other", "type": name}


def run_calls(functions, calls):
    """Run each call on ``functions`` (a dict name -> callable); returns plain results.

    Each result: ``{"status", "error", "warnings", "printed", "returned", "arrays_after"}``
    with ``returned`` as made by ``pack`` (None unless status is "ok").
    """
    results = []
    for call in calls:
        r = _call(functions, call)
        r["returned"] = pack(r.pop("value")) if r["status"] == "ok" else None
        r.pop("value", None)
        results.append(r)
    return results


# ---------------------------------------------------------------- transport without pickle

def encode(obj, arrays):
    """Replace every ndarray in a nested JSON-like ``obj`` by ``{"array": key}``; fills ``arrays``."""
    if isinstance(obj, np.ndarray):
        key = f"a{len(arrays)}"
        arrays[key] = obj
        return {"array": key}
    if isinstance(obj, dict):
        return {k: encode(v, arrays) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [encode(v, arrays) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    return obj


def decode(obj, arrays):
    """Inverse of ``encode``: ``{"array": key}`` becomes ``arrays[key]``."""
    if isinstance(obj, dict):
        if set(obj) == {"array"}:
            return arrays[obj["array"]]
        return {k: decode(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode(v, arrays) for v in obj]
    return obj
