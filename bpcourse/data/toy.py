"""2-D toy classification sets, for pictures of decision boundaries.

Each ``make_*`` returns ``(X, y)``: X (N, 2) float, y (N,) int64 class labels 0..K-1.
Classes are balanced (sizes differ by at most one), the rows are shuffled, and the
result depends only on ``seed`` (an int or a numpy Generator).
"""

import numpy as np

from ._checks import float_dtype, non_negative, positive_int, rng_from


def _class_sizes(n_samples, n_classes):
    """Split ``n_samples`` into ``n_classes`` sizes that differ by at most one."""
    base, extra = divmod(n_samples, n_classes)
    return [base + (1 if k < extra else 0) for k in range(n_classes)]


def _finish(parts, rng, dtype):
    """Stack per-class point arrays, label them 0..K-1, shuffle; return ``(X, y)``."""
    X = np.concatenate(parts)
    y = np.concatenate([np.full(len(p), k, dtype=np.int64) for k, p in enumerate(parts)])
    order = rng.permutation(len(X))
    return X[order].astype(dtype), y[order]


def make_spirals(n_samples=300, n_classes=3, noise=0.2, seed=0, dtype=np.float32):
    """Interleaved spiral arms, one per class (the CS231n picture). X (N, 2), y (N,).

    Arm k: radius r from 0 to 1, angle 4k + 4r plus Gaussian noise of std ``noise``
    (radians); the point is r * (sin angle, cos angle).
    """
    n_classes = positive_int(n_classes, "n_classes", minimum=2)
    n_samples = positive_int(n_samples, "n_samples", minimum=n_classes)
    noise, rng, dtype = non_negative(noise, "noise"), rng_from(seed), float_dtype(dtype)
    parts = []
    for k, n in enumerate(_class_sizes(n_samples, n_classes)):
        r = np.linspace(0.0, 1.0, n)
        t = 4.0 * k + 4.0 * r + noise * rng.standard_normal(n)
        parts.append(np.column_stack([r * np.sin(t), r * np.cos(t)]))
    return _finish(parts, rng, dtype)


def make_moons(n_samples=200, noise=0.1, seed=0, dtype=np.float32):
    """Two interleaving half circles. X (N, 2), y (N,) in {0, 1}.

    Class 0: upper half of the unit circle; class 1: the lower half circle shifted by
    (1, -0.5) (sklearn's shape), plus Gaussian noise of std ``noise`` on both axes.
    """
    n_samples = positive_int(n_samples, "n_samples", minimum=2)
    noise, rng, dtype = non_negative(noise, "noise"), rng_from(seed), float_dtype(dtype)
    n0, n1 = _class_sizes(n_samples, 2)
    t0, t1 = rng.uniform(0, np.pi, n0), rng.uniform(0, np.pi, n1)
    parts = [
        np.column_stack([np.cos(t0), np.sin(t0)]),
        np.column_stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)]),
    ]
    parts = [p + noise * rng.standard_normal(p.shape) for p in parts]
    return _finish(parts, rng, dtype)


def make_xor(n_samples=200, noise=0.1, seed=0, dtype=np.float32):
    """The XOR problem: no line separates the classes. X (N, 2), y (N,) in {0, 1}.

    Points are uniform in [-1, 1]^2 quadrants: class 0 where x1 and x2 have the same
    sign, class 1 where they differ; then Gaussian noise of std ``noise`` is added.
    """
    n_samples = positive_int(n_samples, "n_samples", minimum=2)
    noise, rng, dtype = non_negative(noise, "noise"), rng_from(seed), float_dtype(dtype)
    parts = []
    for k, n in enumerate(_class_sizes(n_samples, 2)):
        s1 = rng.choice([-1.0, 1.0], size=n)
        s2 = s1 if k == 0 else -s1  # same signs for class 0, opposite for class 1
        xy = rng.uniform(0, 1, size=(n, 2)) * np.column_stack([s1, s2])
        parts.append(xy + noise * rng.standard_normal((n, 2)))
    return _finish(parts, rng, dtype)


def make_blobs(n_samples=300, centers=3, std=1.0, seed=0, dtype=np.float32):
    """Gaussian blobs, one per class. X (N, 2), y (N,).

    ``centers``: an int K (K centres evenly spaced on a circle of radius 5) or an
    array (K, 2) of centres. Each blob has standard deviation ``std`` on both axes.
    """
    if isinstance(centers, np.ndarray) or isinstance(centers, (list, tuple)):
        c = np.asarray(centers, dtype=np.float64)
        if c.ndim != 2 or c.shape[1] != 2 or len(c) < 1 or not np.isfinite(c).all():
            raise ValueError(
                f"centers must be an int or a finite array of shape (K, 2), got shape {c.shape}"
            )
    else:
        k = positive_int(centers, "centers")
        angles = 2 * np.pi * np.arange(k) / k
        c = 5.0 * np.column_stack([np.cos(angles), np.sin(angles)])
    n_samples = positive_int(n_samples, "n_samples", minimum=len(c))
    std, rng, dtype = non_negative(std, "std"), rng_from(seed), float_dtype(dtype)
    parts = [
        center + std * rng.standard_normal((n, 2))
        for center, n in zip(c, _class_sizes(n_samples, len(c)))
    ]
    return _finish(parts, rng, dtype)
