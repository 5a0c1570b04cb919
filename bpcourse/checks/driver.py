"""Calls a learner's function on a check's inputs and packs what came back.

A *call* is plain data: ``{"fn": name, "args": [arg, ...]}`` where an arg is a value
(an array, a number, a string, None) or a tagged dict:

- ``{"tuple": [arg, ...]}``          a tuple (e.g. a cache built by the reference forward);
- ``{"rng": seed}``                  ``numpy.random.default_rng(seed)``;
- ``{"function": name, "params": {...}, "shape": [...]}``  a test function of
                                     ``TEST_FUNCTIONS`` of an x of that shape;
- ``{"cache_of": call}``             the cache (second output) of another call, e.g. the
                                     learner's own forward, for their backward;
- ``{"list": [arg, ...]}``           a list (e.g. a network's caches);
- ``{"dict": [[key, arg], ...]}``    a dict with string keys (e.g. a network's parameters).

``run_calls`` returns, per call, what happened: the outputs, any error, warnings, the
array arguments as they were after the call (to catch in-place modification), and which
dict arguments the call changed (an entry added, removed or replaced).

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


def _build(arg, functions, arrays, dicts=None):
    """Turn an argument spec into the value passed to the learner's function.

    ``arrays`` collects the arrays passed (in the order of the spec), ``dicts`` the dicts
    with a snapshot of their entries, so that changes made by the call can be seen."""
    dicts = [] if dicts is None else dicts
    if isinstance(arg, np.ndarray):
        copy = np.array(arg, copy=True)  # the learner gets a fresh array; we keep a handle
        arrays.append(copy)
        return copy
    if isinstance(arg, dict):
        if "tuple" in arg:
            return tuple(_build(a, functions, arrays, dicts) for a in arg["tuple"])
        if "list" in arg:
            return [_build(a, functions, arrays, dicts) for a in arg["list"]]
        if "dict" in arg:
            built = {}
            snapshot = []
            dicts.append((built, snapshot))  # in spec order, before the entries' own dicts
            for key, a in arg["dict"]:
                built[key] = _build(a, functions, arrays, dicts)
                snapshot.append((key, built[key]))
            return built
        if "rng" in arg:
            return np.random.default_rng(arg["rng"])
        if "function" in arg:
            params = {k: np.array(v, copy=True) for k, v in arg["params"].items()}
            return _shape_checked(TEST_FUNCTIONS[arg["function"]](params), tuple(arg["shape"]))
        if "cache_of" in arg:
            result = _call(functions, arg["cache_of"])
            out = result.get("value")
            if result["status"] != "ok" or not isinstance(out, tuple) or len(out) != 2:
                raise _MissingCache(arg["cache_of"]["fn"], result["error"])
            return out[1]
        raise ValueError(f"unknown argument spec {sorted(arg)}")
    return arg


def _call(functions, call):
    """Run one call; returns a dict with status, value (raw), error text, warnings, arrays."""
    fn = functions.get(call["fn"])
    if fn is None or not callable(fn):
        return _result("missing", f"no function named {call['fn']}")
    arrays, dicts = [], []
    try:
        args = [_build(a, functions, arrays, dicts) for a in call["args"]]
    except _MissingCache as e:
        fn, error = e.args
        return _result("no_cache", f"your {fn} did not return (out, cache)"
                                   + (f": {error}" if error else ""))
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
    result = _result(status, error, value, warned, printed.getvalue()[:MAX_TEXT], arrays)
    result["dicts_changed"] = [i for i, (d, snapshot) in enumerate(dicts) if _changed(d, snapshot)]
    return result


def _changed(d, snapshot):
    """Whether dict ``d`` lost, gained or replaced an entry since ``snapshot`` was taken."""
    if len(d) != len(snapshot):
        return True
    return any(key not in d or d[key] is not value for key, value in snapshot)


MAX_TEXT = 2000  # characters kept of an error or of what the function printed


def _result(status, error=None, value=None, warned=(), printed="", arrays=()):
    return {"status": status, "value": value, "error": None if error is None else error[:MAX_TEXT],
            "warnings": list(warned), "printed": printed, "arrays_after": list(arrays),
            "dicts_changed": []}


_LIBRARY = os.path.dirname(os.__file__)  # the standard library
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # bpcourse itself


def _describe(exc):
    """'ValueError: message (line 3 of dense_forward: Z = X @ W.T + b)', at the learner's line."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if "numpy" not in f.filename and f.filename != __file__
              and not f.filename.startswith(("<frozen", "<bpcourse", _LIBRARY, _PACKAGE))]
    text = f"{type(exc).__name__}: {exc}"
    if frames:
        last = frames[-1]
        where = f"line {last.lineno} of {last.name}"
        text += f" ({where}: {last.line.strip()})" if last.line else f" ({where})"
    return text


def pack(value):
    """What a function returned, as plain data: a list of items and whether it was a tuple.

    An item is ``{"kind": "array", "value": ndarray}``, ``{"kind": "float", "value": float}``,
    ``{"kind": "tuple" or "list", "items": [...]}``, ``{"kind": "dict", "keys": [str, ...],
    "items": [...]}`` (containers up to ``MAX_DEPTH`` deep and ``MAX_ITEMS`` long: a cache, a
    network's gradients) or ``{"kind": "other", "type": name}``.  Only a plain
    ``numpy.ndarray`` counts as an array (a subclass is "other"); a Python float or int, a
    numpy scalar or a 0-d float array counts as a float.
    """
    is_tuple = isinstance(value, tuple)
    items = value if is_tuple else (value,)
    return {"tuple": is_tuple, "items": [_pack_item(v) for v in items]}


MAX_DEPTH = 3      # containers inside containers (caches of a whole network: list, tuple, tuple)
MAX_ITEMS = 500    # entries of one container


def _pack_item(v, depth=1):
    t = type(v)
    if t in (tuple, list, dict):
        if depth > MAX_DEPTH or len(v) > MAX_ITEMS:
            return {"kind": "other", "type": f"{t.__name__} (nested too deep or too long)"}
        if t is dict:
            if not all(type(k) is str for k in v):
                return {"kind": "other", "type": "dict with keys that are not strings"}
            return {"kind": "dict", "keys": list(v),
                    "items": [_pack_item(x, depth + 1) for x in v.values()]}
        return {"kind": t.__name__, "items": [_pack_item(x, depth + 1) for x in v]}
    if t is np.ndarray and v.ndim == 0 and v.dtype.kind == "f":
        return {"kind": "float", "value": float(v), "type": f"0-d {v.dtype} array"}
    if t is np.ndarray:
        if v.dtype.kind == "c":  # plain data, but the grader reads real arrays only
            return {"kind": "other", "type": f"{v.dtype} array of shape {v.shape}"}
        if v.dtype.kind in "biuf":
            return {"kind": "array", "value": np.array(v, copy=True)}
        return {"kind": "other", "type": f"ndarray of dtype {v.dtype}"}
    if t is float or isinstance(v, np.floating):
        return {"kind": "float", "value": float(v), "type": t.__name__}
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return {"kind": "float", "value": float(v), "type": t.__name__}
    name = t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
    return {"kind": "other", "type": name}


def run_calls(functions, calls, keep=None):
    """Run each call on ``functions`` (a dict name -> callable); returns plain results.

    Each result: ``{"status", "error", "warnings", "printed", "returned", "arrays_after",
    "dicts_changed"}`` with ``returned`` as made by ``pack`` (None unless status is "ok").
    ``keep``, a list, keeps what the functions returned alive (the grader's sandbox: an
    object's ``__del__`` must not run before the outputs are written).
    """
    results = []
    for call in calls:
        r = _call(functions, call)
        if keep is not None:
            keep.append(r.get("value"))
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
