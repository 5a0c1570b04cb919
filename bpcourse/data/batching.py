"""Getting data ready for training: one-hot labels, mini-batches, standardization."""

import numpy as np

from ._checks import array, float_dtype, positive_int, rng_from


def one_hot(y, num_classes=None, dtype=np.float32):
    """Integer labels y (N,) -> one-hot matrix (N, C) with a single 1 per row.

    C is ``num_classes``, or ``y.max() + 1`` when None. ``one_hot(y).argmax(axis=1)``
    gives ``y`` back.
    """
    y = np.asarray(y)
    dt = float_dtype(dtype)
    if y.dtype == bool or not np.issubdtype(y.dtype, np.integer):
        raise TypeError(
            f"y must hold integer class labels, got dtype {y.dtype}; "
            "convert it with y.astype(np.int64)"
        )
    if y.ndim != 1:
        raise ValueError(f"y must have shape (N,), got shape {y.shape}")
    if num_classes is None:
        if len(y) == 0:
            raise ValueError("y is empty: pass num_classes to say how many columns you want")
        num_classes = int(y.max()) + 1
    num_classes = positive_int(num_classes, "num_classes")
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        bad = y[(y < 0) | (y >= num_classes)][0]
        raise ValueError(
            f"labels must be in [0, {num_classes}) for num_classes={num_classes}, "
            f"got a label {bad}"
        )
    out = np.zeros((len(y), num_classes), dtype=dt)
    out[np.arange(len(y)), y] = 1
    return out


def minibatches(X, y, batch_size, shuffle=True, seed=None, drop_last=False):
    """Yield ``(X_batch, y_batch)`` pairs covering every example exactly once.

    X: (N, ...), y: (N, ...). Batches have ``batch_size`` rows, the last one fewer
    unless ``drop_last`` (which skips it). With ``shuffle`` the order comes from
    ``seed``: an int (same order every time), a numpy Generator (pass the same one
    every epoch for a new, reproducible order each epoch), or None (fresh randomness).
    """
    array(X, "X")
    array(y, "y")
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError(f"X and y must have a first (example) axis, got shapes {X.shape} and {y.shape}")
    if len(X) != len(y):
        raise ValueError(
            f"X and y must have the same number of examples, got len(X)={len(X)} and len(y)={len(y)}"
        )
    batch_size = positive_int(batch_size, "batch_size")
    if not isinstance(shuffle, bool):
        raise TypeError(f"shuffle must be True or False, got {shuffle!r}")
    order = rng_from(seed, allow_none=True).permutation(len(X)) if shuffle else np.arange(len(X))
    return _batches(X, y, order, batch_size, drop_last)


def _batches(X, y, order, batch_size, drop_last):
    """The generator behind ``minibatches`` (kept separate so input errors raise at once)."""
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        if drop_last and len(idx) < batch_size:
            return
        yield X[idx], y[idx]


class Standardizer:
    """Rescale each feature to mean 0 and standard deviation 1, using training statistics.

    ``fit(X_train)`` learns ``mean_`` (D,) and ``std_`` (D,) from X (N, D); ``transform(X)``
    returns ``(X - mean_) / std_``. A feature that is constant in the training data
    (std 0, e.g. an always-blank pixel) is divided by 1 instead, so it becomes 0, not NaN.
    """

    def __init__(self):
        self.mean_ = None
        self.std_ = None

    def _check(self, X, action):
        """Return X as a 2-D float array, or raise a clear error."""
        array(X, "X")
        if X.ndim != 2:
            raise ValueError(f"X must have shape (N, D) to {action}, got shape {X.shape}")
        if X.dtype == bool or not (np.issubdtype(X.dtype, np.integer) or np.issubdtype(X.dtype, np.floating)):
            raise TypeError(f"X must hold numbers, got dtype {X.dtype}")
        return X if X.dtype in (np.float32, np.float64) else X.astype(np.float32)

    def fit(self, X):
        """Learn the per-feature mean and std of X (N, D). Returns self."""
        X = self._check(X, "fit")
        if len(X) == 0:
            raise ValueError(f"X must have at least one example (row) to fit, got shape {X.shape}")
        if not np.isfinite(X).all():
            raise ValueError("X contains NaN or inf; remove or fill those values before fit")
        mean = X.mean(axis=0, dtype=np.float64)
        std = X.std(axis=0, dtype=np.float64)
        std[std == 0] = 1.0
        self.mean_, self.std_ = mean, std
        return self

    def _check_fitted(self, X, action):
        if self.mean_ is None:
            raise RuntimeError(
                f"this Standardizer is not fitted yet: call fit(X_train) (or fit_transform) before {action}"
            )
        X = self._check(X, action)
        if X.shape[1] != len(self.mean_):
            raise ValueError(
                f"X must have {len(self.mean_)} features (columns), as in the data passed to fit, "
                f"got {X.shape[1]}"
            )
        return X

    def transform(self, X):
        """Return (X - mean_) / std_ for X (N, D), in X's float dtype (float32 for ints)."""
        X = self._check_fitted(X, "transform")
        return ((X - self.mean_) / self.std_).astype(X.dtype)

    def fit_transform(self, X):
        """``fit(X)`` then ``transform(X)``; X (N, D) -> (N, D)."""
        return self.fit(X).transform(X)

    def inverse_transform(self, Z):
        """Undo ``transform``: Z * std_ + mean_, for Z (N, D)."""
        Z = self._check_fitted(Z, "inverse_transform")
        return (Z * self.std_ + self.mean_).astype(Z.dtype)

    def __repr__(self):
        fitted = f"fitted on {len(self.mean_)} features" if self.mean_ is not None else "not fitted"
        return f"Standardizer({fitted})"
