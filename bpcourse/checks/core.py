"""The check battery's machinery: test cases as data, judged against the reference.

An ``Exercise`` makes ``Case``s from a seeded generator.  A case is a list of driver calls
(see ``driver.py``).  Judging is the same in the notebook and in the grader:

1. the calls run on the learner's functions (in the notebook directly; in the grader in a
   sandboxed process) and come back as plain data;
2. the same calls run on the reference functions (trusted) and give the expected data;
3. ``compare`` checks structure, type, dtype, shape, finiteness, values and that no input
   was modified; on a failure, each known ``Mistake`` (a wrong implementation of the
   exercise) is run on the same inputs, and if the learner's output matches it, its hint
   names the likely mistake.
"""

from dataclasses import dataclass, field
import re

import numpy as np

from . import driver


@dataclass
class Mistake:
    """A typical wrong version of an exercise, recognised by its outputs or its error."""

    hint: str
    fn: object = None          # the wrong implementation, same signature as the exercise
    error: str = None          # or: a regex matched against the learner's error text
    warning: str = None        # or: a regex matched against a numpy warning
    test: object = None        # or: test(case, got, expected) -> bool, a property of the
                               # learner's results (an invariant they break), tried last


@dataclass
class Case:
    """One test: the calls to run, how it is described, and what it is judged on."""

    label: str
    calls: list
    meta: dict = field(default_factory=dict)   # e.g. {"N": 5}, used to describe factors
    expected: list = None      # expected results; None = run the calls on the reference
    judge: object = None       # custom judge(case, got, expected) -> Failure or None
    tol: float = None          # overrides the exercise's tolerance
    floor: float = 1e-12       # errors are relative to max(largest expected value, floor)


@dataclass
class Failure:
    message: str
    rank: int = 0              # 0: wrong values/types; 1: raised; 2: could not run at all
    status: str = "wrong"      # wrong | error | not_implemented | missing | timeout
    hint: str = None           # set by a custom judge that recognises the mistake itself


@dataclass
class Exercise:
    name: str
    notebook: str
    signature: str             # shown to the learner, e.g. "dense_forward(X, W, b) -> (Z, cache)"
    arg_names: tuple           # names of the positional arguments
    outputs: tuple             # names of the returned values; None for one not judged (a cache)
    make_cases: object         # make_cases(rng, functions_given) -> list[Case]
    mistakes: list = field(default_factory=list)
    needs: tuple = ()          # other exercises whose learner versions it may use (a forward)
    uses: tuple = ()           # functions it calls by name (a whole network calls its layers):
                               # yours where they passed, the reference where they did not
    cache: object = None       # a forward's documented cache: a name, or a tuple of names
    hints: tuple = ()          # what hint(name) reveals, level by level: a nudge, the idea,
                               # the formula
    tol64: float = 1e-6
    tol32: float = 1e-3

    def tolerance(self, case, dtype):
        if case.tol is not None:
            return case.tol
        return self.tol32 if dtype == np.float32 else self.tol64


# ---------------------------------------------------------------- judging one case

def judge_case(exercise, case, got, reference):
    """Judge the learner's results ``got`` for ``case``; returns (Failure or None, hint or None)."""
    expected = case.expected if case.expected is not None else driver.run_calls(reference, case.calls)
    if case.judge is not None:
        failure = case.judge(case, got, expected)
    else:
        failure = compare_any(exercise, case, got, expected)
    if failure is None:
        return None, None
    if failure.hint or failure.status in ("missing", "not_implemented", "timeout", "crashed"):
        return failure, failure.hint
    return failure, find_mistake(exercise, case, got, reference, expected)


def compare_any(exercise, case, got, expected):
    """Pass if any call matches the first expected result (alternatives, e.g. two caches)."""
    failures = []
    for i, result in enumerate(got):
        f = compare(exercise, case, case.calls[i], result, expected[0])
        if f is None:
            return None
        failures.append(f)
    if failures[0].status in ("not_implemented", "missing"):
        return failures[0]  # the function itself is not there: nothing else matters
    return min(failures, key=lambda f: f.rank)  # the most informative: prefer wrong values


def compare_all(exercise, case, got, expected):
    """Pass only if every call matches its own expected result (e.g. a function called twice)."""
    for i, (result, wanted) in enumerate(zip(got, expected)):
        failure = compare(exercise, case, case.calls[i], result, wanted)
        if failure is not None:
            if len(got) > 1:
                failure.message = f"call {i + 1} of {len(got)}: {failure.message}"
            return failure
    return None


def compare(exercise, case, call, got, expected, values=True, inputs=True, caches=True):
    """Compare one call's result with the expected one; returns a Failure or None.

    ``values=False`` checks everything but the values (for judges of random outputs);
    ``inputs=False`` skips the check that the inputs came back unmodified;
    ``caches=False`` skips a forward's cache.
    """
    status = got["status"]
    fname = call["fn"]
    if status == "missing":
        return Failure(f"{fname} was not found: define a function named {fname}", 2, "missing")
    if status == "not_implemented":
        return Failure(f"{fname} is not implemented yet (it raises NotImplementedError)",
                       2, "not_implemented")
    if status == "no_cache":  # the learner's own forward: more telling than a crash
        return Failure(f"could not test {fname} with your forward's cache: {got['error']}",
                       0.5, "error")
    if status == "timeout":
        return Failure(f"{fname} did not finish in time ({got['error']})", 1, "timeout")
    if status == "crashed":
        return Failure(f"{fname} crashed: {got['error']}", 1, "crashed")
    if status == "refused":
        return Failure(got["error"], 2, "error")
    if status != "ok":
        return Failure(f"{fname} raised {got['error']}", 1, "error")
    new_warnings = [w for w in got["warnings"] if w not in expected["warnings"]]
    if new_warnings:
        return Failure(f"numpy warned during your {fname}: {'; '.join(new_warnings)}")
    if inputs:  # first: an input changed in place also spoils what comes back
        failure = _compare_inputs(exercise, case, call, got["arrays_after"],
                                  got.get("dicts_changed", []))
        if failure is not None:
            return failure
    return _compare_returned(exercise, case, fname, got["returned"], expected["returned"],
                             values, caches)


def _compare_returned(exercise, case, fname, got, expected, values=True, caches=True):
    names = exercise.outputs
    n = len(names)
    if expected["tuple"]:
        if not got["tuple"] or len(got["items"]) != n:
            shown = (f"a tuple of {len(got['items'])}" if got["tuple"]
                     else f"a single {_kind_name(got['items'][0])}")
            return Failure(f"{fname} should return a tuple ({', '.join(x or 'cache' for x in names)}) "
                           f"of {n} values; it returned {shown}")
    elif got["tuple"]:
        return Failure(f"{fname} should return {names[0]} alone, not a tuple of {len(got['items'])}")
    order = _misordered(names, got["items"], expected["items"])
    if order:
        return Failure(f"{fname} should return ({', '.join(x or 'cache' for x in names)}) in this "
                       f"order; yours look like ({order})")
    for name, g, e in zip(names, got["items"], expected["items"]):
        if name is None or (name == "cache" and not caches):
            continue
        if name == "cache":
            failure = _compare_cache(exercise, case, g, e, values)
        else:
            failure = _compare_item(exercise, case, name, g, e, values)
        if failure is not None:
            return failure
    return None


CACHE_HINT = ("return the cache exactly as the docstring says: the backward pass and the "
              "checks read it in that order.")


def _compare_cache(exercise, case, g, e, values):
    """A forward's cache against the documented one (element by element for a tuple)."""
    doc = exercise.cache
    shown = f"({', '.join(doc)})" if isinstance(doc, tuple) else doc
    if e["kind"] != "tuple":
        failure = _compare_item(exercise, case, f"the cache ({shown})", g, e, values)
    elif g["kind"] != "tuple" or len(g["items"]) != len(e["items"]):
        what = f"a tuple of {len(g['items'])}" if g["kind"] == "tuple" else _kind_name(g)
        failure = Failure(f"the cache should be the tuple {shown}, got {what}")
    else:
        failure = None
        for i, (gi, ei) in enumerate(zip(g["items"], e["items"])):
            failure = _compare_item(exercise, case, f"cache[{i}] (which should be {doc[i]})",
                                    gi, ei, values)
            if failure is not None:
                break
    if failure is not None:
        failure.hint = CACHE_HINT + f" The cache of {exercise.name} is {shown}."
    return failure


def _misordered(names, got, expected):
    """The names in the order the learner returned them, when a permutation matches better."""
    def signature(item):
        if item["kind"] == "tuple":
            return ("tuple", len(item["items"]))
        return (item["kind"], item["value"].shape if item["kind"] == "array" else None)

    judged = [i for i, n in enumerate(names) if n is not None]
    g_sig = [signature(got[i]) for i in judged]
    e_sig = [signature(expected[i]) for i in judged]
    if g_sig == e_sig or sorted(map(str, g_sig)) != sorted(map(str, e_sig)):
        return None
    placed, used = [], set()
    for sig in g_sig:  # name each returned value after the first unused expected one like it
        j = next(k for k, s in enumerate(e_sig) if s == sig and k not in used)
        used.add(j)
        placed.append(names[judged[j]])
    return ", ".join(placed)


def _kind_name(item):
    if item["kind"] == "array":
        return f"{item['value'].dtype} array of shape {item['value'].shape}"
    if item["kind"] == "tuple":
        return f"tuple of {len(item['items'])}"
    return item.get("type", item["kind"])


def _compare_item(exercise, case, name, g, e, values=True, floor=None):
    if e["kind"] in ("dict", "list", "tuple"):
        return _compare_container(exercise, case, name, g, e, values)
    if e["kind"] == "float":
        if g["kind"] != "float":
            return Failure(f"{name} should be a float (a Python or numpy scalar), "
                           f"got {_kind_name(g)}")
        if not values:
            return None
        return _compare_values(exercise, case, name, np.float64(g["value"]),
                               np.float64(e["value"]), np.float64)
    if g["kind"] != "array":
        return Failure(f"{name} should be a numpy array ({_kind_name(e)}), got {_kind_name(g)}")
    gv, ev = g["value"], e["value"]
    if gv.shape != ev.shape:
        extra = " (the transpose of the right shape)" if gv.shape == ev.shape[::-1] and gv.ndim == 2 else ""
        return Failure(f"{name} should have shape {ev.shape}, got {gv.shape}{extra}")
    if gv.dtype != ev.dtype:
        return Failure(f"{name} should be {ev.dtype} like the inputs ({ev.dtype} in, {ev.dtype} out), "
                       f"got {gv.dtype}",
                       hint=f"a {gv.dtype} array or scalar slipped into the computation: make new "
                            f"arrays in the inputs' dtype (np.zeros(..., dtype=X.dtype), "
                            f"mask.astype(X.dtype)) and avoid np.float64(...) constants.")
    if not values:
        return None
    return _compare_values(exercise, case, name, gv, ev, ev.dtype, floor)


def _compare_container(exercise, case, name, g, e, values=True):
    """A dict (by key) or a list/tuple (by position), item by item.

    The arrays of a dict (a network's gradients, say) are compared relative to the largest
    value of all of them: a gradient that is 0 in exact arithmetic (the bias of a layer
    before batch norm) is then not judged on its rounding noise."""
    kind = e["kind"]
    if g["kind"] != kind:
        return Failure(f"{name} should be a {kind}, got {_kind_name(g)}")
    if kind == "dict":
        missing = [k for k in e["keys"] if k not in g["keys"]]
        extra = [k for k in g["keys"] if k not in e["keys"]]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"is missing {_keys(missing)}")
            if extra:
                parts.append(f"has {_keys(extra)}, which should not be there")
            return Failure(f"{name} should have the keys {_keys(e['keys'])}; yours "
                           f"{' and '.join(parts)}")
        pairs = [(f"{name}[{k!r}]", g["items"][g["keys"].index(k)], item)
                 for k, item in zip(e["keys"], e["items"])]
    else:
        if len(g["items"]) != len(e["items"]):
            return Failure(f"{name} should be a {kind} of {len(e['items'])} items, "
                           f"got {len(g['items'])}")
        pairs = [(f"{name}[{i}]", gi, ei) for i, (gi, ei) in enumerate(zip(g["items"], e["items"]))]
    floor = None
    if kind == "dict":
        scales = [np.max(np.abs(np.asarray(ei["value"], np.float64))) for ei in e["items"]
                  if ei["kind"] == "array" and ei["value"].size]
        floor = 1e-3 * max(scales) if scales else None
    for item_name, gi, ei in pairs:
        failure = _compare_item(exercise, case, item_name, gi, ei, values, floor)
        if failure is not None:
            return failure
    return None


def _keys(keys):
    return ", ".join(repr(k) for k in keys[:12]) + (" ..." if len(keys) > 12 else "")


def _compare_values(exercise, case, name, g, e, dtype, floor=None):
    g64, e64 = np.asarray(g, np.float64), np.asarray(e, np.float64)
    finite = np.isfinite(e64)
    if not np.array_equal(np.isfinite(g64), finite) or \
            not np.array_equal(g64[~finite], e64[~finite], equal_nan=True):
        bad = "NaN" if np.isnan(g64).any() else "inf" if np.isinf(g64).any() else "finite values"
        return Failure(f"{name} contains {bad} where the expected values are "
                       f"{'finite' if np.all(finite) else 'not'}")
    g64, e64 = np.where(finite, g64, 0.0), np.where(finite, e64, 0.0)
    scale = np.max(np.abs(e64)) if e64.size else 0.0
    diff = np.abs(g64 - e64)
    err = diff.max() / max(scale, case.floor, floor or 0.0) if diff.size else 0.0
    if err <= exercise.tolerance(case, dtype):
        return None
    tol = exercise.tolerance(case, dtype)
    digits = max(6, int(np.ceil(-np.log10(tol))) + 2)
    error = f"relative error {err:.1e}, tolerance {tol:.0e}"
    if e64.ndim == 0:
        msg = (f"{name} is wrong: expected {_num(e64, digits)}, got {_num(g64, digits)} "
               f"({error})")
    else:
        at = np.unravel_index(np.argmax(diff), diff.shape)
        idx = ", ".join(str(int(i)) for i in at)
        msg = (f"{name} has wrong values ({error}): the largest difference is at [{idx}] "
               f"(expected {_num(e64[at], digits)}, got {_num(g64[at], digits)})")
    factor = _describe_factor(g64, e64, case.meta)
    return Failure(msg + (f"; {factor}" if factor else ""))


def _num(x, digits=6):
    return f"{float(x) + 0.0:.{digits}g}"  # + 0.0 turns −0 into 0


def _describe_factor(g, e, meta):
    """'yours is 1/N = 1/5 of the expected' when g is a constant multiple of e."""
    if not np.any(e):
        return None
    r = float(np.sum(g * e) / np.sum(e * e))
    if not np.allclose(g, r * e, rtol=1e-4, atol=1e-9 * np.max(np.abs(e))) or abs(r - 1) < 1e-3:
        return None
    N = meta.get("N")
    candidates = [("−1 ×", -1.0), ("2 ×", 2.0), ("1/2 ×", 0.5)]
    if N:
        candidates += [(f"N = {N} ×", N), (f"1/N = 1/{N} ×", 1 / N), (f"1/N² = 1/{N * N} ×", 1 / N**2)]
    for text, value in candidates:
        if np.isclose(r, value, rtol=1e-4):
            if value == -1.0:
                return "yours is −1 × the expected: a sign error"
            return f"yours is {text} the expected"
    return f"yours is {r:.4g} × the expected".replace("-", "−")


def _compare_inputs(exercise, case, call, arrays_after, dicts_changed=()):
    originals, names, dict_names = _spec_arrays(call, exercise)
    if dicts_changed:
        name = dict_names[dicts_changed[0]] if dicts_changed[0] < len(dict_names) else "a dict"
        return Failure(f"your {call['fn']} changed the dict {name} it was given (an entry was "
                       f"added, removed or replaced); the functions must not change their "
                       f"inputs: build a new dict (new = dict(params); new[key] = ...)",
                       hint="the caller still holds the dict you were given (the parameters "
                            "before the step, say): return new dicts instead of writing into it.")
    for name, before, after in zip(names, originals, arrays_after):
        if not (before.shape == after.shape and np.array_equal(before, after, equal_nan=True)):
            diff = np.abs(np.asarray(after, np.float64) - np.asarray(before, np.float64))
            tiny = diff.size and np.nanmax(diff) < 1e-6 * max(np.nanmax(np.abs(before)), 1e-12)
            how = (" by tiny amounts (x + h − h is not exactly x in floating point: restore "
                   "the saved value instead of subtracting h)" if tiny else "")
            return Failure(f"your {call['fn']} modified its input {name} in place{how}; "
                           f"the functions must not change their inputs: work on a copy "
                           f"(e.g. X = X.copy(), or out = X * mask instead of X *= mask)")
    return None


def _spec_arrays(call, exercise):
    """The arrays and the dicts of a call spec in the order the driver builds them, with
    readable names: ``(arrays, array_names, dict_names)``."""
    arrays, names, dict_names = [], [], []

    def walk(arg, name):
        if isinstance(arg, np.ndarray):
            arrays.append(arg)
            names.append(name)
        elif isinstance(arg, dict) and ("tuple" in arg or "list" in arg):
            for j, a in enumerate(arg.get("tuple", arg.get("list"))):
                walk(a, f"{name}[{j}]")
        elif isinstance(arg, dict) and "dict" in arg:
            dict_names.append(name)
            for key, a in arg["dict"]:
                walk(a, f"{name}[{key!r}]")
        elif isinstance(arg, dict) and "cache_of" in arg:
            inner = arg["cache_of"]
            for j, a in enumerate(inner["args"]):
                walk(a, f"argument {j + 1} of {inner['fn']}")

    arg_names = exercise.arg_names if call["fn"] == exercise.name else ()
    for i, a in enumerate(call["args"]):
        walk(a, arg_names[i] if i < len(arg_names) else f"argument {i + 1}")
    return arrays, names, dict_names


# ---------------------------------------------------------------- naming the mistake

def find_mistake(exercise, case, got, reference, expected=None):
    """The hint of the first known mistake that explains the learner's results, or None.

    Mistakes recognised by an error or a warning are tried first.  A wrong implementation
    that gives the right answer on this case (it cannot be told apart here) is skipped.
    """
    patterned = [m for m in exercise.mistakes if m.error or m.warning]
    for mistake in patterned:
        pattern = mistake.error or mistake.warning
        texts = [(r.get("error") or "") for r in got] if mistake.error else \
            [w for r in got for w in r.get("warnings", [])]
        if any(re.search(pattern, t) for t in texts):
            return mistake.hint
    hint = _mistake_by_function(exercise, case, got, reference, expected)
    if hint is not None:
        return hint
    for mistake in exercise.mistakes:
        if mistake.test is not None:
            try:
                if mistake.test(case, got, expected):
                    return mistake.hint
            except Exception:  # a property that cannot be computed on these results
                continue
    return None


def _mistake_by_function(exercise, case, got, reference, expected):
    for mistake in exercise.mistakes:
        if mistake.fn is None:
            continue
        wrong = dict(reference)
        wrong[exercise.name] = mistake.fn
        try:
            predicted = driver.run_calls(wrong, case.calls)
        except Exception:
            continue
        if expected is not None and predicted[0]["status"] == "ok" and \
                compare(exercise, case, case.calls[0], predicted[0], expected[0], inputs=False,
                        caches=False) is None:
            continue  # this mistake is harmless on this case
        for g, p in zip(got, predicted):
            if p["status"] == "ok" and g["status"] == "ok" and \
                    compare(exercise, case, case.calls[0], g, p, inputs=False, caches=False) is None:
                return mistake.hint
            if p["status"] == "error" and g["status"] == "error" and \
                    p["error"].split(" (line")[0] == g["error"].split(" (line")[0]:
                return mistake.hint
    return None
