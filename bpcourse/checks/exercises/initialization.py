"""Checks for notebook 11: He initialization and the update-to-data ratio.

``he_init`` is random, so it is judged by properties first, each failing with its own
message: the shape and dtype, that it draws from the generator it is given (the same seed
gives the same W, another seed another W), that its sample mean is about 0 and its sample
standard deviation about √(2/fan_in), within a statistical tolerance of 5 standard errors on
tens of thousands of entries.  A standard deviation that matches a known wrong formula (fan_out
for fan_in, the 2 forgotten, Xavier's, a variance used as a standard deviation) names it.
Then against the reference's draw for the same seed, since the contract fixes how W is drawn
(``rng.normal(0.0, np.sqrt(2 / fan_in), size=(fan_in, fan_out))`` in float64, then cast),
so that a network initialized with the learner's ``he_init`` is reproducible.

``update_ratios`` is deterministic and is judged against the reference, and on a case built
from its definition (dW = c·W gives lr·|c| for every layer).
"""

import numpy as np

from ... import network as net
from ...losses import softmax_cross_entropy
from ..build import call, normal, ok, spec
from ..core import Case, Exercise, Failure, Mistake, compare


# ====================================================================== he_init

FAN_OUT_HINT = ("He initialization divides by fan_in, the number of inputs of each unit "
                "(W.shape[0] here): the variance of Z = X W sums fan_in terms. (PyTorch's "
                "mode='fan_out' exists, for the backward pass, but its default and the course's "
                "is fan_in.)")
NO_TWO_HINT = ("the factor 2 is missing: N(0, 1/fan_in) is LeCun's initialization, right for a "
               "linear layer, but a ReLU zeroes half of each unit's inputs, E[relu(z)²] = "
               "Var(z)/2, and the 2 makes up for it.")
XAVIER_HINT = ("that is Xavier's variance 2/(fan_in + fan_out), meant for tanh; He's for ReLU "
               "is 2/fan_in.")
VARIANCE_HINT = ("2/fan_in is the VARIANCE; rng.normal takes the standard deviation: "
                 "np.sqrt(2 / fan_in).")
LOC_HINT = ("rng.normal's first argument is the mean (loc), the second the standard deviation "
            "(scale): rng.normal(0.0, std, size=...).")
MEAN_HINT = "the weights must have mean 0 (rng.normal(0.0, std, ...)), half of them negative."
NP_RANDOM_HINT = ("draw W from the rng argument (rng.normal(...)), not from np.random: the "
                  "caller's seeded generator makes a network's initialization reproducible.")
SAME_SEED_HINT = ("draw W from the rng argument on every call, not from a generator of your "
                  "own with a fixed seed.")
SHAPE_HINT = ("W has shape (fan_in, fan_out) in this course, so that Z = X @ W; PyTorch stores "
              "nn.Linear's weight the other way round, (out, in).")
DTYPE_HINT = ("return W in the dtype argument (float32 by default): rng.normal draws float64, "
              "so finish with .astype(dtype).")
DRAW_HINT = ("your W has the right shape, mean and scale, but it is not the draw of the "
             "course's contract: draw rng.normal(0.0, np.sqrt(2 / fan_in), size=(fan_in, "
             "fan_out)) (one call, in float64, even for float32) and cast it with "
             ".astype(dtype); then the same seed gives the same weights as the reference.")
UNIFORM_HINT = ("a uniform draw U(−√(6/fan_in), √(6/fan_in)) has the right variance 2/fan_in "
                "(it is PyTorch's kaiming_uniform_), but the course's he_init is the normal "
                "draw rng.normal(0.0, np.sqrt(2 / fan_in), size=(fan_in, fan_out)).")
FLOAT32_DRAW_HINT = ("draw in float64 and cast: rng.standard_normal(..., dtype=np.float32) "
                     "draws other numbers than the float64 generator, so the same seed would "
                     "not give the reference's weights.")

STAT_MIN = 10_000     # the statistics are judged on cases with at least this many entries
Z_TOLERANCE = 5       # standard errors


def _he_variant(fan_in, fan_out, rng, dtype="float32", *, std=None, loc=0.0, shape=None,
                source=None):
    """He initialization with one thing changed (for the mistakes)."""
    std = np.sqrt(2 / fan_in) if std is None else std(fan_in, fan_out)
    size = shape(fan_in, fan_out) if shape else (fan_in, fan_out)
    g = np.random if source == "np.random" else rng
    return g.normal(loc, std, size=size).astype(dtype)


def _he_uniform(fan_in, fan_out, rng, dtype="float32"):
    bound = np.sqrt(6 / fan_in)
    return rng.uniform(-bound, bound, size=(fan_in, fan_out)).astype(dtype)


def _he_float32_draw(fan_in, fan_out, rng, dtype="float32"):
    dtype = np.dtype(dtype)
    return (rng.standard_normal((fan_in, fan_out), dtype=dtype)
            * dtype.type(np.sqrt(2 / fan_in))).astype(dtype)


# the wrong standard deviations the judge can tell by their ratio to √(2/fan_in), with hints
WRONG_STDS = [
    ("fan_out for fan_in", lambda D, M: np.sqrt(2 / M), FAN_OUT_HINT),
    ("no factor 2 (LeCun)", lambda D, M: np.sqrt(1 / D), NO_TWO_HINT),
    ("Xavier", lambda D, M: np.sqrt(2 / (D + M)), XAVIER_HINT),
    ("variance as std", lambda D, M: 2 / D, VARIANCE_HINT),
    ("√2 / fan_in", lambda D, M: np.sqrt(2) / D, VARIANCE_HINT),
]


def he_cases(rng, given):
    cases = []
    for fan_in, fan_out, dtype in ((300, 200, "float64"), (128, 512, None), (120, 120, "float32"),
                                   (3, 5, "float64")):
        seed = int(rng.integers(2**31))
        extra = () if dtype is None else (dtype,)
        calls = [call("he_init", fan_in, fan_out, {"rng": s}, *extra) for s in (seed, seed, seed + 1)]
        what = "default dtype (float32)" if dtype is None else dtype
        n = fan_in * fan_out
        kind = "statistics and the draw" if n >= STAT_MIN else "the draw only (too few entries for statistics)"
        cases.append(Case(f"fan_in = {fan_in}, fan_out = {fan_out}, {what}: {kind}", calls,
                          {"fan_in": fan_in, "fan_out": fan_out}, judge=_judge_he))
    return cases


def _judge_he(case, got, expected):
    """Properties first, each with its own message; then the contract's draw."""
    failure = _he_properties(case, got, expected)
    if failure is not None:
        return failure
    if compare(he_init, case, case.calls[0], got[0], expected[0]) is not None:
        n = case.meta["fan_in"] * case.meta["fan_out"]
        return Failure("your W is not the draw the course's contract makes from this generator "
                       "(rng.normal(0.0, np.sqrt(2 / fan_in), size=(fan_in, fan_out)), then "
                       ".astype(dtype))" + ("" if n >= STAT_MIN else
                                            f"; with {n} entries, only the draw is judged here"))
    return None


def _he_properties(case, got, expected):
    """The first property of a he_init result that fails (a Failure), or None."""
    fan_in, fan_out = case.meta["fan_in"], case.meta["fan_out"]
    first = compare(he_init, case, case.calls[0], got[0], expected[0], values=False)
    if first is not None:
        if got[0]["status"] == "ok":
            value = got[0]["returned"]["items"][0].get("value")
            if isinstance(value, np.ndarray) and value.shape == (fan_out, fan_in) != (fan_in, fan_out):
                first.hint = SHAPE_HINT
            elif isinstance(value, np.ndarray) and value.shape == (fan_in, fan_out):
                first.hint = DTYPE_HINT
        return first
    W = got[0]["returned"]["items"][0]["value"]
    again = got[1]["returned"]["items"][0].get("value") if got[1]["status"] == "ok" else None
    if not (isinstance(again, np.ndarray) and np.array_equal(again, W)):
        return Failure("two calls with generators of the same seed gave different weights",
                       hint=NP_RANDOM_HINT)
    other = got[2]["returned"]["items"][0].get("value") if got[2]["status"] == "ok" else None
    if isinstance(other, np.ndarray) and np.array_equal(other, W):
        return Failure("generators with different seeds gave the same weights", hint=SAME_SEED_HINT)
    W64 = W.astype(np.float64)
    if not np.all(np.isfinite(W64)):
        return Failure("W contains NaN or inf")
    n = W64.size
    if n < STAT_MIN:
        return None
    std = np.sqrt(2 / fan_in)
    mean, s = float(W64.mean()), float(W64.std())
    if abs(mean) > Z_TOLERANCE * std / np.sqrt(n):
        hint = LOC_HINT if abs(mean - std) <= Z_TOLERANCE * s / np.sqrt(n) else MEAN_HINT
        return Failure(f"the mean of your {n} weights is {mean:.4g}; a zero-mean draw gives "
                       f"0 ± {std / np.sqrt(n):.2g}", hint=hint)
    ratio = s / std
    tol = Z_TOLERANCE / np.sqrt(2 * n)   # the standard error of a sample std, relative
    if abs(ratio - 1) > tol:
        hints = []
        for _, wrong_std, wrong_hint in WRONG_STDS:
            if abs(ratio / (wrong_std(fan_in, fan_out) / std) - 1) <= tol and wrong_hint not in hints:
                hints.append(wrong_hint)
        hint = " Or, the same number here: ".join(hints) if hints else None
        return Failure(f"the standard deviation of your weights is {s:.4g}; He's is "
                       f"√(2/fan_in) = √(2/{fan_in}) = {std:.4g} (yours is {ratio:.3g} × that, "
                       f"beyond the sampling error of {n} weights, ±{tol:.1%})", hint=hint)
    return None


def _valid_draw_of_another_kind(case, got, expected):
    """Every property holds (on a case large enough to judge them), but the draw differs."""
    if case.meta["fan_in"] * case.meta["fan_out"] < STAT_MIN or \
            _he_properties(case, got, expected) is not None:
        return False
    a = got[0]["returned"]["items"][0]["value"]
    b = expected[0]["returned"]["items"][0]["value"]
    return not np.allclose(a, b, rtol=1e-3, atol=0)


he_init = Exercise(
    name="he_init", notebook="11_initialization",
    signature="he_init(fan_in, fan_out, rng, dtype=np.float32) -> W",
    arg_names=("fan_in", "fan_out", "rng", "dtype"), outputs=("W",),
    make_cases=he_cases,
    mistakes=[
        Mistake(FAN_OUT_HINT, fn=lambda D, M, rng, dtype="float32":
                _he_variant(D, M, rng, dtype, std=WRONG_STDS[0][1])),
        Mistake(NO_TWO_HINT, fn=lambda D, M, rng, dtype="float32":
                _he_variant(D, M, rng, dtype, std=WRONG_STDS[1][1])),
        Mistake(XAVIER_HINT, fn=lambda D, M, rng, dtype="float32":
                _he_variant(D, M, rng, dtype, std=WRONG_STDS[2][1])),
        Mistake(VARIANCE_HINT, fn=lambda D, M, rng, dtype="float32":
                _he_variant(D, M, rng, dtype, std=WRONG_STDS[3][1])),
        Mistake(LOC_HINT, fn=lambda D, M, rng, dtype="float32":
                rng.normal(np.sqrt(2 / D), size=(D, M)).astype(dtype)),
        Mistake(NP_RANDOM_HINT, fn=lambda D, M, rng, dtype="float32":
                _he_variant(D, M, rng, dtype, source="np.random")),
        Mistake(SHAPE_HINT, fn=lambda D, M, rng, dtype="float32":
                _he_variant(D, M, rng, dtype, shape=lambda D, M: (M, D))),
        Mistake(DTYPE_HINT, fn=lambda D, M, rng, dtype="float32":
                rng.normal(0.0, np.sqrt(2 / D), size=(D, M))),
        Mistake(UNIFORM_HINT, fn=_he_uniform),
        Mistake(FLOAT32_DRAW_HINT, fn=_he_float32_draw),
        Mistake(DRAW_HINT, test=_valid_draw_of_another_kind),
    ],
    hints=(
        "One call of the generator you are given: a normal draw of the right shape, with the "
        "standard deviation He derived for a ReLU layer.",
        "Var(W) = 2/fan_in keeps Var(Z) from layer to layer behind a ReLU; rng.normal takes "
        "the mean and the standard deviation, the root of that variance; then cast to dtype.",
        "return rng.normal(0.0, np.sqrt(2 / fan_in), size=(fan_in, fan_out)).astype(dtype)",
    ),
)


# ====================================================================== update_ratios

def _network(rng, sizes, dtype, batchnorm=False, random_biases=False):
    """Parameters and their gradients from a real backward pass of an MLP."""
    config = {"batchnorm": batchnorm, "dropout": 0.0}
    params = net.init_mlp(sizes, config, rng, dtype=dtype)
    if random_biases:
        params = {k: (normal(rng, v.shape, dtype, 0.2) if k.startswith("b") else v)
                  for k, v in params.items()}
    X = normal(rng, (16, sizes[0]), dtype)
    y = rng.integers(0, sizes[-1], 16)
    logits, caches = net.mlp_forward(X, params, config)
    _, dlogits = softmax_cross_entropy(logits, y)
    return params, net.mlp_backward(dlogits, caches)


def ratio_cases(rng, given):
    cases = []
    params, grads = _network(rng, [7, 9, 6, 4], np.float64)
    cases.append(Case("float64 network 7 → 9 → 6 → 4 at initialization (biases 0), its "
                      "gradients from mlp_backward, lr = 0.1",
                      [call("update_ratios", spec(params), spec(grads), 0.1)]))
    params, grads = _network(rng, [5, 8, 3], np.float32, batchnorm=True, random_biases=True)
    cases.append(Case("float32 network 5 → 8 → 3 with batch norm (gamma, beta, running "
                      "statistics in params), random biases, lr = 0.01",
                      [call("update_ratios", spec(params), spec(grads), 0.01)], tol=1e-4))
    params, grads = _network(rng, [6, 4], np.float64, random_biases=True)
    cases.append(Case("one layer (only W1), lr = 1.5",
                      [call("update_ratios", spec(params), spec(grads), 1.5)]))
    # from the definition: dW = c·W gives lr·|c| whatever W is
    lr, scales = 0.5, {"W1": 0.002, "W2": -0.03}
    W1, W2 = normal(rng, (4, 3)) + 0.5, normal(rng, (3, 2)) - 0.2
    params = {"W1": W1, "b1": np.zeros(3), "W2": W2, "b2": np.zeros(2)}
    grads = {"W1": scales["W1"] * W1, "b1": normal(rng, 3), "W2": scales["W2"] * W2,
             "b2": normal(rng, 2)}
    cases.append(Case("dW = c·W (c = 0.002 for W1, −0.03 for W2), lr = 0.5: the ratio is lr·|c|",
                      [call("update_ratios", spec(params), spec(grads), lr)],
                      expected=[ok({k: lr * abs(c) for k, c in scales.items()}, tuple_=False)]))
    return cases


_RATIO_VARIANTS = {
    "gradient norm": lambda W, dW, lr: np.linalg.norm(dW),
    "no division": lambda W, dW, lr: lr * np.linalg.norm(dW),
    "no lr": lambda W, dW, lr: np.linalg.norm(dW) / np.linalg.norm(W),
    "inverted": lambda W, dW, lr: np.linalg.norm(W) / (lr * np.linalg.norm(dW)),
    "per entry": lambda W, dW, lr: np.mean(np.abs(lr * dW) / np.abs(W)),
    "std": lambda W, dW, lr: np.std(lr * dW) / np.std(W),
    "squared": lambda W, dW, lr: (lr * np.linalg.norm(dW)) ** 2 / np.linalg.norm(W) ** 2,
    "biases too": lambda W, dW, lr: lr * np.linalg.norm(dW) / np.linalg.norm(W),
}


def _ratio_variant(params, grads, lr, how):
    """update_ratios with one thing wrong (for the mistakes)."""
    keep = ("W", "b") if how == "biases too" else ("W",)
    return {k: float(_RATIO_VARIANTS[how](params[k].astype(np.float64),
                                          grads[k].astype(np.float64), lr))
            for k in params if k.startswith(keep)}


def _ratio(how):
    return lambda params, grads, lr: _ratio_variant(params, grads, lr, how)


update_ratios = Exercise(
    name="update_ratios", notebook="11_initialization",
    signature="update_ratios(params, grads, lr) -> {'W1': ratio, ..., 'WK': ratio}",
    arg_names=("params", "grads", "lr"), outputs=("ratios",),
    make_cases=ratio_cases,
    mistakes=[
        Mistake("the ratio is lr·‖dW‖/‖W‖: the size of the STEP (lr times the gradient) "
                "relative to the weights, not the gradient's norm alone.",
                fn=_ratio("gradient norm")),
        Mistake("divide by ‖W‖: the ratio compares the step lr·‖dW‖ with the size of the "
                "weights it changes.", fn=_ratio("no division")),
        Mistake("the learning rate is missing: the step is lr·dW, so the ratio is "
                "lr·‖dW‖/‖W‖.", fn=_ratio("no lr")),
        Mistake("the ratio is inverted: the step over the weights, lr·‖dW‖/‖W‖ (about 1e-3 "
                "when the learning rate is about right), not ‖W‖/(lr·‖dW‖).",
                fn=_ratio("inverted")),
        Mistake("one ratio per matrix, of norms: lr·‖dW‖/‖W‖ with ‖·‖ the Frobenius norm "
                "(np.linalg.norm), not the mean of the entries' ratios |lr·dW_ij|/|W_ij|, "
                "which blows up wherever a weight is close to 0.", fn=_ratio("per entry")),
        Mistake("the course's ratio uses norms, lr·‖dW‖/‖W‖ (CS231n); the ratio of standard "
                "deviations (Karpathy's plot) is close to it but not the same when the means "
                "are not 0.", fn=_ratio("std")),
        Mistake("the ratio of the norms, not of their squares: np.linalg.norm is already the "
                "square root of the sum of squares.", fn=_ratio("squared")),
        Mistake("only the weight matrices W1 … WK: the biases start at 0, where the ratio "
                "is undefined (division by zero), and are not what the rule of thumb is about.",
                fn=_ratio("biases too")),
    ],
    hints=(
        "For every weight matrix of the network (the keys W1, W2, ...), compare the size of "
        "one step of gradient descent with the size of the weights.",
        "The step is lr·dW; the size of a matrix is its Frobenius norm np.linalg.norm(M); "
        "return a dict with one float per W key.",
        "return {k: float(lr * np.linalg.norm(grads[k]) / np.linalg.norm(params[k])) "
        "for k in params if k.startswith('W')}",
    ),
)

EXERCISES = [he_init, update_ratios]
