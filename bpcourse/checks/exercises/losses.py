"""Checks for softmax, cross_entropy and softmax_cross_entropy."""

import numpy as np

from ... import losses
from ..build import call, normal, numerical_grads, ok, sizes
from ..core import Case, Exercise, Failure, Mistake, compare


def _logits(rng, dtype=np.float64):
    N, C = sizes(rng, 2, 2, 9)
    return normal(rng, (N, C), dtype, scale=2.0)


def _large_logits():
    """Rows far apart, so that only a per-row max shift works."""
    return np.array([[1000.0, 999.0, 0.0], [-1000.0, -1001.0, -999.0], [3.0, 1.0, 2.0]])


def softmax_cases(rng, given):
    return [
        Case("random float64 logits", [call("softmax", _logits(rng))]),
        Case("random float32 logits", [call("softmax", _logits(rng, np.float32))]),
        Case("large logits (±1000), rows far apart: no overflow", [call("softmax", _large_logits())]),
        Case("a single example", [call("softmax", normal(rng, (1, 4)))]),
    ]


def _global_max_softmax(Z):
    E = np.exp(Z - Z.max())
    return E / E.sum(axis=1, keepdims=True)


softmax = Exercise(
    name="softmax", notebook="02_loss",
    signature="softmax(Z) -> P", arg_names=("Z",), outputs=("P",),
    make_cases=softmax_cases,
    mistakes=[
        Mistake("softmax over the wrong axis: each ROW is one example, so normalize with "
                "sums over axis=1 (keepdims=True), not over the columns.",
                fn=lambda Z: np.exp(Z - Z.max(axis=0)) / np.exp(Z - Z.max(axis=0)).sum(axis=0)),
        Mistake("subtract each row's own maximum (Z.max(axis=1, keepdims=True)), not the "
                "maximum of the whole array: rows far below it underflow to 0/0.",
                fn=_global_max_softmax),
        Mistake("softmax without the max shift: e^1000 overflows to inf and inf/inf is NaN. "
                "Subtract each row's maximum first (Z − Z.max(axis=1, keepdims=True)); it does "
                "not change the result.", warning="overflow"),
        Mistake("broadcasting a row statistic needs keepdims=True (shape (N, 1)), otherwise "
                "numpy lines it up with the columns.", error=r"could not be broadcast"),
    ],
    hints=(
        "Exponentiate and normalize each row, after a shift that cannot change the result but"
        " keeps the exponentials finite.",
        "Subtracting each row's maximum leaves every ratio e^z_i / Σ e^z_k unchanged and "
        "makes every exponent ≤ 0; keepdims=True keeps the (N, 1) shapes broadcasting over "
        "the columns.",
        'E = np.exp(Z - Z.max(axis=1, keepdims=True)); return E / E.sum(axis=1, keepdims=True)',
    ),
)


def _probabilities(rng, dtype=np.float64):
    return losses.softmax(_logits(rng, dtype))


def _labels(rng, N, C):
    return rng.integers(0, C, size=N)


def cross_entropy_cases(rng, given):
    cases = []
    P = _probabilities(rng)
    N, C = P.shape
    cases.append(Case("integer labels, float64", [call("cross_entropy", P, _labels(rng, N, C))], {"N": N}))
    P = _probabilities(rng)
    N, C = P.shape
    Y = np.eye(C)[_labels(rng, N, C)]
    cases.append(Case("one-hot labels (N, C)", [call("cross_entropy", P, Y)], {"N": N}))
    P = _probabilities(rng, np.float32)
    cases.append(Case("integer labels, float32", [call("cross_entropy", P, _labels(rng, *P.shape))],
                      {"N": len(P)}))
    P = np.array([[0.0, 1.0, 0.0], [0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    y = np.array([0, 2, 0])
    cases.append(Case("a probability of exactly 0 for the true class: no log(0)",
                      [call("cross_entropy", P, y)], {"N": 3}, judge=_judge_zero_probability))
    return cases


def _judge_zero_probability(case, got, expected):
    """Any clip of P at 1e-6 or below is right here: the loss must be finite and large."""
    failure = compare(cross_entropy, case, case.calls[0], got[0], expected[0], values=False)
    if failure is not None:
        return failure
    loss = got[0]["returned"]["items"][0]["value"]
    P, y = case.calls[0]["args"]
    N = len(y)
    others = -np.log(P[np.arange(N), y][P[np.arange(N), y] > 0]).sum()
    floor = (others - np.log(1e-6)) / N
    if not np.isfinite(loss):
        return Failure(f"loss is {loss} when a true class has probability 0",
                       hint="log(0) = −inf: clip the probabilities first, e.g. "
                            "np.log(np.maximum(P, tiny)) with tiny = np.finfo(P.dtype).tiny.")
    if loss < floor:
        return Failure(f"loss is {loss:.6g}: a true class with probability 0 must cost at least "
                       f"−log(1e-6) ≈ 13.8 (clip P at a tiny value, 1e-6 or smaller), so the "
                       f"mean over these {N} examples must be at least {floor:.4g}")
    return None


def _ce_columns(P, y):
    return float(-np.mean(np.log(P[:, y])))


cross_entropy = Exercise(
    name="cross_entropy", notebook="02_loss",
    signature="cross_entropy(P, y) -> loss", arg_names=("P", "y"), outputs=("loss",),
    make_cases=cross_entropy_cases,
    mistakes=[
        Mistake("the loss is the MEAN over the batch, not the sum: divide by N.",
                fn=lambda P, y: losses.cross_entropy(P, y) * len(P)),
        Mistake("P[:, y] picks whole columns (an N × N array); pick one entry per row with "
                "P[np.arange(N), y].", fn=_ce_columns),
        Mistake("log(0) = −inf: clip the probabilities first, e.g. np.log(np.maximum(P, tiny)) "
                "with tiny = np.finfo(P.dtype).tiny.", warning="divide by zero|invalid value"),
        Mistake("one-hot labels (N, C) need −Σ Y·log P summed over classes; integer labels "
                "(N,) pick P[n, yₙ]. Handle both (y.ndim tells which).",
                error=r"(?i)index|indices|shape"),
    ],
    hints=(
        "The mean over the batch of minus the log probability of the true class; log(0) must "
        "never happen.",
        "Clip P from below at np.finfo(P.dtype).tiny before the log. Integer labels pick one "
        "entry per row, P[np.arange(N), y]; one-hot labels (y.ndim == 2) weigh every log P by"
        " Y.",
        "log_P = np.log(np.maximum(P, np.finfo(P.dtype).tiny)); loss = −Σ log_P[np.arange(N),"
        " y] / N (or −Σ Y·log_P / N for one-hot y); return float(loss)",
    ),
)


def sce_cases(rng, given):
    cases = []
    for dtype, label in ((np.float64, "float64"), (np.float32, "float32")):
        Z = _logits(rng, dtype)
        cases.append(Case(f"random {label} logits, integer labels",
                          [call("softmax_cross_entropy", Z, _labels(rng, *Z.shape))], {"N": len(Z)}))
    Z = _logits(rng)
    Y = np.eye(Z.shape[1])[_labels(rng, *Z.shape)]
    cases.append(Case("one-hot labels (N, C)", [call("softmax_cross_entropy", Z, Y)], {"N": len(Z)}))
    Z = _large_logits()
    cases.append(Case("large logits (±1000): no overflow",
                      [call("softmax_cross_entropy", Z, np.array([2, 1, 0]))], {"N": 3}))
    Z = _logits(rng)
    y = _labels(rng, *Z.shape)
    loss = losses.softmax_cross_entropy(Z, y)[0]
    (grad,) = numerical_grads(lambda Z: losses.softmax_cross_entropy(Z, y)[0], [Z])
    cases.append(Case("gradient check: your dZ against a centred numerical gradient of the loss",
                      [call("softmax_cross_entropy", Z, y)], {"N": len(Z)},
                      expected=[ok(loss, grad)]))
    return cases


def _sce_global_max(Z, y):
    Y = np.eye(Z.shape[1], dtype=Z.dtype)[y] if y.ndim == 1 else y
    E = np.exp(Z - Z.max())
    P = E / E.sum(axis=1, keepdims=True)
    loss = float(-(Y * np.log(P)).sum() / len(Z))
    return loss, (P - Y) / len(Z)


def _sce_no_mean(Z, y):
    loss, dZ = losses.softmax_cross_entropy(Z, y)
    return loss, dZ * len(Z)


def _sce_sum(Z, y):
    loss, dZ = losses.softmax_cross_entropy(Z, y)
    return loss * len(Z), dZ * len(Z)


softmax_cross_entropy = Exercise(
    name="softmax_cross_entropy", notebook="04_output_layer_backward",
    signature="softmax_cross_entropy(Z, y) -> (loss, dZ)", arg_names=("Z", "y"),
    outputs=("loss", "dZ"), make_cases=sce_cases,
    mistakes=[
        Mistake("one-hot labels (N, C) and integer labels (N,) must both work: build the "
                "one-hot matrix Y from integer labels, use y as Y when y.ndim == 2.",
                error=r"(?i)index|indices"),
        Mistake("subtract each row's own maximum (Z.max(axis=1, keepdims=True)), not the "
                "maximum of the whole array: rows far below it underflow (log 0).",
                fn=lambda Z, y: _sce_global_max(Z, y)),
        Mistake("the loss is a mean over the batch, so its gradient carries 1/N too: "
                "dZ = (softmax(Z) − Y) / N.", fn=_sce_no_mean),
        Mistake("the loss is the MEAN over the batch (not the sum), and dZ = (P − Y) / N.",
                fn=_sce_sum),
        Mistake("e^Z overflows for large logits: shift each row by its maximum "
                "(log-sum-exp) before exponentiating.", warning="overflow"),
    ],
    hints=(
        "Work with log probabilities from the start (no softmax, then log), and the gradient "
        "needs no derivation beyond the notebook's result.",
        "log P = (Z − rowmax) − log Σ e^(Z − rowmax) (log-sum-exp) never takes the log of 0; "
        "the gradient of the mean loss is the probabilities minus the one-hot targets, over "
        "N.",
        "shifted = Z − Z.max(axis=1, keepdims=True); log_P = shifted − "
        "np.log(np.exp(shifted).sum(axis=1, keepdims=True)); loss = −Σ Y·log_P / N; dZ = "
        "(np.exp(log_P) − Y) / N",
    ),
)

EXERCISES = [softmax, cross_entropy, softmax_cross_entropy]
