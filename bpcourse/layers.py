"""Layers as pure functions: each forward returns ``(out, cache)``, each backward takes ``(dout, cache)``.

Shapes are batch-first: ``X`` is (N, D) with N examples of D features. No function modifies
its inputs, and float32 in gives float32 out. The caches are documented because the course's
checks and grader build them: a learner's backward receives exactly this cache.
"""

import numpy as np

from . import _validate as check


# ---------------------------------------------------------------- dense (affine) layer

def dense_forward(X, W, b):
    """Z = X W + b.

    X (N, D), W (D, M), b (M,)  ->  Z (N, M), cache = (X, W, b)
    """
    _check_dense(X, W, b)
    Z = X @ W + b
    return Z, (X, W, b)


def dense_backward(dZ, cache):
    """Gradients of the dense layer.

    dZ (N, M), cache = (X, W, b)  ->  dX = dZ Wᵀ (N, D), dW = Xᵀ dZ (D, M), db = Σₙ dZ (M,)
    """
    X, W, b = cache
    check.float_array(dZ, "dZ")
    check.shape(dZ, (X.shape[0], W.shape[1]), "dZ", "Z = X W + b")
    check.same_dtype([("W", W), ("dZ", dZ)])
    dX = dZ @ W.T
    dW = X.T @ dZ
    db = dZ.sum(axis=0)
    return dX, dW, db


def _check_dense(X, W, b):
    for name, a in (("X", X), ("W", W), ("b", b)):
        check.float_array(a, name)
    check.ndim(X, 2, "X", "(N, D)")
    check.ndim(W, 2, "W", "(D, M)")
    check.ndim(b, 1, "b", "(M,)")
    if X.shape[1] != W.shape[0]:
        raise ValueError(
            f"X has {X.shape[1]} features (shape {X.shape}) but W expects {W.shape[0]} "
            f"(shape {W.shape}); W must be (D, M) with D = X.shape[1]"
        )
    if b.shape[0] != W.shape[1]:
        raise ValueError(f"b must have shape ({W.shape[1]},) to match W {W.shape}, got {b.shape}")
    check.same_dtype([("X", X), ("W", W), ("b", b)])


# ---------------------------------------------------------------- activations

def relu_forward(Z):
    """A = max(Z, 0).  Z (N, M) -> A (N, M), cache = Z"""
    check.float_array(Z, "Z")
    A = np.maximum(Z, 0)
    return A, Z


def relu_backward(dA, cache):
    """dZ = dA where Z > 0, else 0 (the derivative at exactly 0 is taken as 0, as in PyTorch)."""
    Z = cache
    check.float_array(dA, "dA")
    check.same_shape(dA, Z, "dA", "Z")
    check.same_dtype([("Z", Z), ("dA", dA)])
    return dA * (Z > 0)


def sigmoid_forward(Z):
    """A = 1 / (1 + e^(−Z)), computed without overflow.  Z -> A, cache = A"""
    check.float_array(Z, "Z")
    # e^(-|Z|) is in (0, 1], so neither branch can overflow.
    E = np.exp(-np.abs(Z))
    A = np.where(Z >= 0, 1 / (1 + E), E / (1 + E))
    return A, A


def sigmoid_backward(dA, cache):
    """dZ = dA · σ(Z) (1 − σ(Z)), with σ(Z) = A taken from the cache."""
    A = cache
    check.float_array(dA, "dA")
    check.same_shape(dA, A, "dA", "A")
    check.same_dtype([("A", A), ("dA", dA)])
    return dA * A * (1 - A)


def tanh_forward(Z):
    """A = tanh(Z).  Z -> A, cache = A"""
    check.float_array(Z, "Z")
    A = np.tanh(Z)
    return A, A


def tanh_backward(dA, cache):
    """dZ = dA · (1 − tanh²(Z)), with tanh(Z) = A taken from the cache."""
    A = cache
    check.float_array(dA, "dA")
    check.same_shape(dA, A, "dA", "A")
    check.same_dtype([("A", A), ("dA", dA)])
    return dA * (1 - A * A)


# ---------------------------------------------------------------- batch normalization

def batchnorm_forward(X, gamma, beta, eps=1e-5):
    """Batch normalization in training mode (batch statistics, biased variance).

    X (N, D), gamma (D,), beta (D,)  ->  out = gamma · X̂ + beta (N, D),
    with μ = mean over the batch, σ² = mean of (X − μ)², X̂ = (X − μ) / √(σ² + eps).
    cache = (X, X_hat, mu, var, gamma, eps)
    """
    eps = _check_batchnorm(X, gamma, beta, eps)
    mu = X.mean(axis=0)
    var = X.var(axis=0)  # biased: divides by N, as the normalization uses
    X_hat = (X - mu) / np.sqrt(var + eps)
    out = gamma * X_hat + beta
    return out, (X, X_hat, mu, var, gamma, eps)


def batchnorm_backward(dout, cache):
    """The full batch-norm gradient, through X̂, the batch mean and the batch variance.

    dout (N, D)  ->  dX (N, D), dgamma (D,), dbeta (D,), using the compact form
    dX = (1/N) / √(σ² + eps) · (N·dX̂ − Σₙ dX̂ − X̂ · Σₙ (dX̂ · X̂)),  dX̂ = dout · gamma.
    """
    X, X_hat, mu, var, gamma, eps = cache
    check.float_array(dout, "dout")
    check.same_shape(dout, X, "dout", "X")
    check.same_dtype([("X", X), ("dout", dout)])
    N = X.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * X_hat).sum(axis=0)
    dX_hat = dout * gamma
    inv_std = 1 / np.sqrt(var + eps)
    dX = (inv_std / N) * (
        N * dX_hat - dX_hat.sum(axis=0) - X_hat * (dX_hat * X_hat).sum(axis=0)
    )
    return dX, dgamma, dbeta


def batchnorm_backward_graph(dout, cache):
    """The same gradient as ``batchnorm_backward``, node by node on the computational graph.

    Forward as a graph: mu = mean(X); Xc = X − mu; var = mean(Xc²); std = √(var + eps);
    X_hat = Xc / std; out = gamma · X_hat + beta.  Walked backward, a node used by several
    others collects the sum of their gradients.  dout (N, D), cache as ``batchnorm_forward``
    returns it  ->  dX (N, D), dgamma (D,), dbeta (D,).
    """
    X, X_hat, mu, var, gamma, eps = cache
    check.float_array(dout, "dout")
    check.same_shape(dout, X, "dout", "X")
    check.same_dtype([("X", X), ("dout", dout)])
    N = X.shape[0]
    Xc = X - mu                                  # forward values the backward needs
    std = np.sqrt(var + eps)
    dbeta = dout.sum(axis=0)                     # out = gamma · X_hat + beta
    dgamma = (dout * X_hat).sum(axis=0)
    dX_hat = dout * gamma
    dXc = dX_hat / std                           # X_hat = Xc / std: the direct path
    dstd = -(dX_hat * Xc).sum(axis=0) / std**2
    dvar = dstd / (2 * std)                      # std = √(var + eps)
    dXc = dXc + dvar * 2 * Xc / N                # var = mean(Xc²): Xc's second use
    dmu = -dXc.sum(axis=0)                       # Xc = X − mu
    dX = dXc + dmu / N                           # mu = mean(X)
    return dX, dgamma, dbeta


def _check_batchnorm(X, gamma, beta, eps):
    for name, a in (("X", X), ("gamma", gamma), ("beta", beta)):
        check.float_array(a, name)
    check.ndim(X, 2, "X", "(N, D)")
    if X.shape[0] < 1:
        raise ValueError(f"batch norm needs at least one example, got X of shape {X.shape}")
    for name, a in (("gamma", gamma), ("beta", beta)):
        if a.shape != (X.shape[1],):
            raise ValueError(
                f"{name} must have shape ({X.shape[1]},) (one value per feature of X {X.shape}), "
                f"got {a.shape}"
            )
    check.same_dtype([("X", X), ("gamma", gamma), ("beta", beta)])
    return check.positive(eps, "eps")  # a Python float: it cannot promote float32 to float64


# ---------------------------------------------------------------- dropout

def dropout_forward(X, p, rng):
    """Inverted dropout in training mode: drop each unit with probability ``p``.

    Kept units are scaled by 1 / (1 − p) so that E[out] = X.  ``rng`` is a
    ``numpy.random.Generator``.  X (N, D) -> out (N, D), cache = mask (N, D), where
    mask holds 0 for dropped units and 1 / (1 − p) for kept ones (all 0 when p = 1).
    """
    check.float_array(X, "X")
    p = check.probability(p, "p (the probability of dropping a unit)")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator (e.g. np.random.default_rng(0)), "
            f"got {type(rng).__name__}"
        )
    keep = rng.random(X.shape) >= p
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    mask = keep.astype(X.dtype) * X.dtype.type(scale)
    return X * mask, mask


def dropout_backward(dout, cache):
    """dX = dout · mask: dropped units pass no gradient, kept ones are scaled like the forward."""
    mask = cache
    check.float_array(dout, "dout")
    check.same_shape(dout, mask, "dout", "the mask")
    check.same_dtype([("the mask", mask), ("dout", dout)])
    return dout * mask
