"""The bundled 8x8 handwritten digits (1797 images, 10 classes) and a stratified split.

The data is the UCI "Optical Recognition of Handwritten Digits" test set, the same copy
scikit-learn ships (CC BY 4.0, E. Alpaydin and C. Kaynak, 1998); see ``digits_info()``.
"""

import numbers
from functools import lru_cache
from importlib import resources

import numpy as np

from ._checks import float_dtype, rng_from

DIGITS_ATTRIBUTION = (
    "Optical Recognition of Handwritten Digits, E. Alpaydin and C. Kaynak (1998), "
    "UCI Machine Learning Repository, https://doi.org/10.24432/C50P49, licensed CC BY 4.0 "
    "(the copy bundled with scikit-learn)."
)


def digits_info():
    """Return the full attribution and licence text of the bundled digits (a str)."""
    return resources.files(__package__).joinpath("DIGITS_LICENSE.txt").read_text("utf-8")


@lru_cache(maxsize=1)
def _raw_digits():
    """Read ``digits.npz`` once: images uint8 (1797, 8, 8), labels uint8 (1797,)."""
    with resources.files(__package__).joinpath("digits.npz").open("rb") as f:
        with np.load(f) as npz:
            images, labels = npz["images"], npz["labels"]
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def stratified_split(y, test_size=0.2, seed=0):
    """Split indices so that every class is divided in the same proportion.

    y: integer labels (N,). For each class c with n_c examples, round(test_size * n_c)
    go to the test set. Returns ``(train_idx, test_idx)``, int64 arrays, each shuffled.
    """
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real):
        raise TypeError(f"test_size must be a number strictly between 0 and 1, got {test_size!r}")
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be strictly between 0 and 1, got {test_size}")
    if not isinstance(y, np.ndarray) or y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        got = f"shape {y.shape}, dtype {y.dtype}" if isinstance(y, np.ndarray) else type(y).__name__
        raise TypeError(f"y must be a 1-D numpy array of integer labels, got {got}")
    rng = rng_from(seed)
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_test = int(round(test_size * len(idx)))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    train_idx = rng.permutation(np.concatenate(train)).astype(np.int64)
    test_idx = rng.permutation(np.concatenate(test)).astype(np.int64)
    if len(train_idx) == 0 or len(test_idx) == 0:
        raise ValueError(
            f"test_size={test_size} leaves an empty train or test set "
            f"({len(train_idx)} train, {len(test_idx)} test examples)"
        )
    return train_idx, test_idx


def load_digits(test_size=0.2, seed=0, flatten=True, scale=True, dtype=np.float32,
                val_size=None):
    """Load the bundled digits as ``(X_train, y_train), (X_test, y_test)``, or, with
    ``val_size``, as ``(X_train, y_train), (X_val, y_val), (X_test, y_test)``.

    X: (N, 64) when ``flatten`` else (N, 8, 8), in [0, 1] when ``scale`` (pixels / 16)
    else the raw counts 0..16, of float ``dtype``. y: int64 labels 0..9, shape (N,).
    The splits are stratified (each class split in the same proportions) and shuffled with
    ``seed`` (an int or a numpy Generator).  ``test_size`` is the fraction of all 1797
    images held out for the test set; ``val_size`` the fraction of them taken, from what is
    left, for a validation set.  The test set is the same with or without ``val_size``: a
    validation set is carved out of the training set, never out of the test set.
    """
    dt = float_dtype(dtype)
    if not isinstance(flatten, bool):
        raise TypeError(f"flatten must be True or False, got {flatten!r}")
    if not isinstance(scale, bool):
        raise TypeError(f"scale must be True or False, got {scale!r}")
    if val_size is not None:
        if isinstance(val_size, bool) or not isinstance(val_size, numbers.Real):
            raise TypeError(f"val_size must be a fraction of the data, got {val_size!r}")
        if not 0.0 < val_size < 1.0 - test_size:
            raise ValueError(f"val_size must be between 0 and 1 − test_size = {1 - test_size:g} "
                             f"(a fraction of all images), got {val_size}")
    images, labels = _raw_digits()
    rng = rng_from(seed)
    train_idx, test_idx = stratified_split(labels, test_size=test_size, seed=rng)

    X = images.astype(dt)
    if scale:
        X /= 16
    if flatten:
        X = X.reshape(len(X), 64)
    y = labels.astype(np.int64)
    if val_size is None:
        return (X[train_idx], y[train_idx]), (X[test_idx], y[test_idx])
    fit_pos, val_pos = stratified_split(y[train_idx], test_size=val_size / (1.0 - test_size),
                                        seed=rng)
    fit_idx, val_idx = train_idx[fit_pos], train_idx[val_pos]
    return (X[fit_idx], y[fit_idx]), (X[val_idx], y[val_idx]), (X[test_idx], y[test_idx])
