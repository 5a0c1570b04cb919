"""Softmax and cross-entropy, the loss at the top of every classifier in the course.

Z (N, C) holds logits (one row of C class scores per example); labels ``y`` are either
integers (N,) in [0, C) or one-hot rows (N, C). The loss is the mean over the batch,
as in PyTorch's ``CrossEntropyLoss``.
"""

import numpy as np

from . import _validate as check


def softmax(Z):
    """Row-wise softmax, P[n, c] = e^Z[n,c] / Σₖ e^Z[n,k].

    Subtracting each row's maximum first leaves P unchanged and keeps every exponent
    ≤ 0, so no finite Z overflows.  Z (N, C) -> P (N, C), rows summing to 1.
    """
    _check_logits(Z, "Z")
    E = np.exp(_shift_by_row_max(Z))
    return E / E.sum(axis=1, keepdims=True)


def cross_entropy(P, y):
    """Mean cross-entropy −(1/N) Σₙ log P[n, yₙ] of probabilities P (N, C).

    ``y`` is integer labels (N,) or one-hot rows (N, C) (class probabilities also work).
    Probabilities are clipped at the smallest positive float, so log(0) never happens.
    Returns a Python float.
    """
    _check_logits(P, "P")
    if P.size and (P.min() < 0 or P.max() > 1 or not np.allclose(P.sum(axis=1), 1, atol=1e-3)):
        raise ValueError(
            "P must hold probabilities (entries in [0, 1], rows summing to 1); "
            "if you have logits, use softmax(Z) first or softmax_cross_entropy(Z, y)"
        )
    log_P = np.log(np.maximum(P, np.finfo(P.dtype).tiny))
    Y = target_matrix(y, P)
    return float(-(Y * log_P).sum(dtype=np.float64) / P.shape[0])


def softmax_cross_entropy(Z, y):
    """Softmax followed by cross-entropy, fused and stable, with its gradient.

    Z (N, C) logits, y labels (N,) or one-hot (N, C)  ->
    (loss, dZ) with loss a float and dZ = (softmax(Z) − onehot(y)) / N, shape (N, C).
    """
    _check_logits(Z, "Z")
    Y = target_matrix(y, Z)
    shifted = _shift_by_row_max(Z)
    log_P = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # log-sum-exp
    log_P = np.maximum(log_P, np.finfo(Z.dtype).min)  # so that 0 · log P is 0, never NaN
    N = Z.shape[0]
    loss = float(-(Y * log_P).sum(dtype=np.float64) / N)  # float64 sum: no overflow
    dZ = (np.exp(log_P) - Y) / N
    return loss, dZ


def _shift_by_row_max(Z):
    """Z minus each row's maximum: every entry ≤ 0, so e^entry ≤ 1 never overflows.

    (A spread beyond the largest float gives −inf, whose exponential is the right 0.)
    """
    with np.errstate(over="ignore"):
        return Z - Z.max(axis=1, keepdims=True)


def target_matrix(y, Z):
    """The targets as an (N, C) matrix of Z's dtype: one-hot rows for integer labels."""
    N, C = Z.shape
    if isinstance(y, np.ndarray) and y.ndim == 2:
        if y.shape != (N, C):
            raise ValueError(f"one-hot labels y must have shape ({N}, {C}), got {y.shape}")
        if y.dtype.kind not in "fiub":
            raise TypeError(f"one-hot labels y must be numeric, got dtype {y.dtype}")
        if y.size and (y.min() < 0 or not np.allclose(y.sum(axis=1), 1, atol=1e-3)):
            raise ValueError(
                "one-hot labels y must be non-negative rows summing to 1 "
                "(a single 1 per row); for integer class labels pass shape (N,)"
            )
        return y.astype(Z.dtype, copy=False)
    check.labels(y, N, C)
    Y = np.zeros((N, C), dtype=Z.dtype)
    Y[np.arange(N), y] = 1
    return Y


def _check_logits(Z, name):
    check.float_array(Z, name)
    check.ndim(Z, 2, name, "(N, C)")
    if Z.shape[1] < 1:
        raise ValueError(f"{name} needs at least one class column, got shape {Z.shape}")
    if not np.all(np.isfinite(Z)):
        raise ValueError(
            f"{name} contains NaN or infinite values; the forward pass before the loss "
            f"has diverged (try a smaller learning rate)"
        )
