"""Checks for inverted dropout.  The forward pass is random, so it is judged by properties
first (values are 0 or X/(1 − p), the drop rate is p, the rng is used, the cache is the
mask), each failing with its own message; then against the reference's mask for the same
seed, since the contract fixes how the mask is drawn (keep = rng.random(X.shape) >= p), so
that whole networks are reproducible.  The backward pass is judged against the reference on
the reference's mask."""

from dataclasses import replace

import numpy as np

from ... import layers
from ..build import call, normal
from ..core import Case, Exercise, Failure, Mistake, compare


def forward_cases(rng, given):
    cases = []
    for p, dtype in ((0.3, np.float64), (0.5, np.float32), (0.8, np.float64)):
        X = normal(rng, (100, 60), dtype)
        X[X == 0] = 1.0  # no exact zeros: a 0 in the output then means "dropped"
        seed = int(rng.integers(2**31))
        calls = [call("dropout_forward", X, p, {"rng": seed}),
                 call("dropout_forward", X, p, {"rng": seed}),
                 call("dropout_forward", X, p, {"rng": seed + 1})]
        name = "float32" if dtype == np.float32 else "float64"
        cases.append(Case(f"p = {p} on a {name} (100, 60) input", calls, {"p": p},
                          judge=_judge_forward))
    X = normal(rng, (20, 10))
    cases.append(Case("p = 0: nothing is dropped, out equals X",
                      [call("dropout_forward", X, 0.0, {"rng": 1})], {"p": 0.0},
                      judge=_judge_forward))
    return cases


MASK_HINT = ("cache the mask as a float array like X: 0 for dropped units and 1/(1 − p) for "
             "kept ones (mask = keep / (1 − p)), so that out = X · mask and dX = dout · mask.")


def _judge_forward(case, got, expected):
    out_only = replace(dropout_forward, outputs=("out", None))  # the cache is judged below
    first = compare(out_only, case, case.calls[0], got[0], expected[0], values=False)
    if first is not None:
        return first
    p = case.meta["p"]
    X = case.calls[0]["args"][0]
    out, mask = (item.get("value") for item in got[0]["returned"]["items"])
    X64, out64 = X.astype(np.float64), out.astype(np.float64)
    tol = 1e-4 if X.dtype == np.float32 else 1e-10
    dropped = out64 == 0
    kept = ~dropped
    if p == 0.0:
        if not np.allclose(out64, X64, rtol=tol, atol=0):
            return Failure("with p = 0 nothing is dropped and out must equal X")
        return None
    scaled = np.isclose(out64[kept], X64[kept] / (1 - p), rtol=tol, atol=0)
    if not scaled.all():
        if np.allclose(out64[kept], X64[kept], rtol=tol, atol=0):
            return Failure("kept units equal X: they are not rescaled",
                           hint="inverted dropout scales the kept units by 1/(1 − p) in training, "
                                "so that the expected output equals X and eval mode needs no change.")
        if np.allclose(out64[kept], X64[kept] / p, rtol=tol, atol=0):
            kept_rate = kept.sum() / kept.size
            if abs(kept_rate - p) <= 5 * np.sqrt(p * (1 - p) / kept.size):
                return Failure(f"kept units are X/p and {kept_rate:.1%} of them were kept",
                               hint="p is the probability of DROPPING a unit (PyTorch's "
                                    "convention), not of keeping it: keep a unit where "
                                    "rng.random(X.shape) >= p and scale it by 1/(1 − p).")
            return Failure("kept units are X/p", hint="p is the probability of DROPPING a unit "
                           "(PyTorch's convention): scale the kept ones by 1/(1 − p), not 1/p.")
        return Failure("every output must be 0 (dropped) or X/(1 − p) (kept); some are neither")
    n = out64.size
    rate = dropped.sum() / n
    sigma = np.sqrt(p * (1 - p) / n)
    if abs(rate - p) > 5 * sigma:
        hint = None
        if abs(rate - (1 - p)) <= 5 * sigma:
            hint = ("p is the probability of DROPPING a unit: keep a unit where "
                    "rng.random(X.shape) >= p (you kept it with probability p).")
        return Failure(f"{rate:.1%} of the units were dropped, expected about {p:.0%}", hint=hint)
    if got[1]["status"] == "ok":
        again = got[1]["returned"]["items"][0].get("value")
        if not (isinstance(again, np.ndarray) and np.array_equal(again, out)):
            return Failure("two calls with generators of the same seed gave different masks",
                           hint="draw the mask from the rng argument (rng.random(X.shape)), not "
                                "from np.random: the caller's seeded generator makes runs "
                                "reproducible.")
    if got[2]["status"] == "ok":
        other = got[2]["returned"]["items"][0].get("value")
        if isinstance(other, np.ndarray) and np.array_equal(other, out):
            return Failure("generators with different seeds gave the same mask",
                           hint="draw the mask from the rng argument on every call.")
    if not (isinstance(mask, np.ndarray) and mask.shape == X.shape and mask.dtype == X.dtype):
        got_mask = (f"a {mask.dtype} array of shape {mask.shape}" if isinstance(mask, np.ndarray)
                    else got[0]["returned"]["items"][1].get("type", "something else"))
        return Failure(f"the cache must be the scaled mask, a {X.dtype} array of shape {X.shape}; "
                       f"got {got_mask}", hint=MASK_HINT)
    if not np.allclose(X64 * mask, out64, rtol=tol, atol=0) or np.any(mask[dropped] != 0):
        return Failure("the cache must be the scaled mask: out = X · mask, with mask 0 for "
                       "dropped units and 1/(1 − p) for kept ones", hint=MASK_HINT)
    if compare(out_only, case, case.calls[0], got[0], expected[0]) is not None:
        return Failure("your mask is a valid dropout mask, but not the one the course's contract "
                       "draws from this generator", hint=DRAW_HINT)
    return None


DRAW_HINT = ("draw the mask exactly as the docstring says, keep = rng.random(X.shape) >= p (one "
             "call of rng.random, in float64, even for float32 X): then the same seed gives the "
             "same mask as the reference, and a whole network using your dropout can be "
             "checked number for number (notebook 10).")


dropout_forward = Exercise(
    name="dropout_forward", notebook="08_dropout",
    signature="dropout_forward(X, p, rng) -> (out, cache)",
    arg_names=("X", "p", "rng"), outputs=("out", "cache"), cache="mask",
    make_cases=forward_cases,
    hints=(
        "Draw the keep decisions from the generator you are given, and scale what is kept so "
        "the expected output does not change.",
        "rng.random(X.shape) >= p keeps each unit with probability 1 − p (p is the "
        "probability of dropping); kept units are multiplied by 1/(1 − p); the mask, in X's "
        "dtype, is the cache.",
        "keep = rng.random(X.shape) >= p; mask = keep.astype(X.dtype) / (1 − p) (all 0 when p"
        " = 1); return X * mask, mask",
    ),
)


def backward_cases(rng, given):
    cases = []
    for p, dtype in ((0.4, np.float64), (0.25, np.float32)):
        X = normal(rng, (30, 20), dtype)
        _, mask = layers.dropout_forward(X, p, np.random.default_rng(int(rng.integers(2**31))))
        dout = normal(rng, X.shape, dtype)
        cases.append(Case(f"p = {p}, {np.dtype(dtype).name}, the mask of the reference forward",
                          [call("dropout_backward", dout, mask)], {"p": p}))
    return cases


dropout_backward = Exercise(
    name="dropout_backward", notebook="08_dropout",
    signature="dropout_backward(dout, cache) -> dX", arg_names=("dout", "cache"),
    outputs=("dX",), make_cases=backward_cases, needs=("dropout_forward",),
    mistakes=[
        Mistake("the backward pass must scale like the forward: dX = dout · mask, with the "
                "kept units' 1/(1 − p) in the mask.",
                fn=lambda dout, mask: dout * (mask > 0)),
        Mistake("dropped units pass no gradient: multiply dout by the mask.",
                fn=lambda dout, mask: dout.copy()),
    ],
    hints=(
        'The mask is a constant of the forward pass: what is the derivative of X times a constant?',
        "out = X · mask elementwise, so ∂out/∂X is the mask itself: dropped units pass no "
        "gradient, kept ones are scaled like in the forward pass.",
        'return dout * mask',
    ),
)

EXERCISES = [dropout_forward, dropout_backward]
