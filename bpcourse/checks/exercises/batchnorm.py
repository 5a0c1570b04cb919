"""Checks for batch normalization (training mode), forward and backward."""

import numpy as np

from ... import layers
from ..build import backward_calls, cache, call, normal, numerical_grads, ok, sizes
from ..core import Case, Exercise, Mistake


def _inputs(rng, dtype=np.float64, N=None):
    N = N or int(rng.integers(6, 12))
    D = int(rng.integers(2, 6))
    # features on different scales and offsets, as real activations are
    X = normal(rng, (N, D), dtype) * rng.uniform(0.5, 3.0, D).astype(dtype) \
        + rng.uniform(-2, 2, D).astype(dtype)
    gamma = rng.uniform(0.5, 2.0, D).astype(dtype)
    beta = normal(rng, D, dtype)
    return X, gamma, beta


def forward_cases(rng, given):
    cases = []
    for dtype, label in ((np.float64, "float64"), (np.float32, "float32")):
        X, gamma, beta = _inputs(rng, dtype)
        cases.append(Case(f"random {label} inputs, X {X.shape}, non-trivial gamma and beta",
                          [call("batchnorm_forward", X, gamma, beta)], {"N": len(X)}))
    X, gamma, beta = _inputs(rng)
    cases.append(Case("a larger eps (0.1)", [call("batchnorm_forward", X, gamma, beta, 0.1)],
                      {"N": len(X)}))
    return cases


def _bn_unbiased(X, gamma, beta, eps=1e-5):
    X_hat = (X - X.mean(0)) / np.sqrt(X.var(0, ddof=1) + eps)
    return gamma * X_hat + beta, None


def _bn_eps_outside(X, gamma, beta, eps=1e-5):
    X_hat = (X - X.mean(0)) / (np.sqrt(X.var(0)) + eps)
    return gamma * X_hat + beta, None


def _bn_rows(X, gamma, beta, eps=1e-5):
    X_hat = (X - X.mean(1, keepdims=True)) / np.sqrt(X.var(1, keepdims=True) + eps)
    return gamma * X_hat + beta, None


def _bn_no_affine(X, gamma, beta, eps=1e-5):
    return (X - X.mean(0)) / np.sqrt(X.var(0) + eps), None


batchnorm_forward = Exercise(
    name="batchnorm_forward", notebook="07_batch_normalization",
    signature="batchnorm_forward(X, gamma, beta, eps=1e-5) -> (out, cache)",
    arg_names=("X", "gamma", "beta", "eps"), outputs=("out", "cache"),
    cache=("X", "X_hat", "mu", "var", "gamma", "eps"),
    make_cases=forward_cases,
    mistakes=[
        Mistake("training-mode batch norm uses the BIASED batch variance (divide by N, "
                "np.var's default ddof=0); N − 1 is only for the running variance.", fn=_bn_unbiased),
        Mistake("eps goes inside the square root: X̂ = (X − μ) / √(σ² + eps).", fn=_bn_eps_outside),
        Mistake("the statistics are per feature, over the batch: mean and variance along "
                "axis=0 (one value per column), not per example.", fn=_bn_rows),
        Mistake("the output is gamma · X̂ + beta: the learnable scale and shift are missing.",
                fn=_bn_no_affine),
    ],
)


def backward_cases(rng, given):
    cases = []
    for dtype, label in ((np.float64, "float64"), (np.float32, "float32")):
        X, gamma, beta = _inputs(rng, dtype)
        out, c = layers.batchnorm_forward(X, gamma, beta)
        dout = normal(rng, X.shape, dtype)
        cases.append(Case(
            f"random {label} inputs, X {X.shape}, non-trivial gamma, beta and dout",
            backward_calls("batchnorm_backward", "batchnorm_forward", (X, gamma, beta),
                           cache(*c), dout, given), {"N": len(X)}))
    X, gamma, beta = _inputs(rng, N=5)
    _, c = layers.batchnorm_forward(X, gamma, beta)
    dout = normal(rng, X.shape)
    grads = numerical_grads(
        lambda X, g, b: float(np.sum(layers.batchnorm_forward(X, g, b)[0] * dout)), [X, gamma, beta])
    cases.append(Case(
        "gradient check: dX, dgamma, dbeta against centred numerical gradients (float64)",
        backward_calls("batchnorm_backward", "batchnorm_forward", (X, gamma, beta), cache(*c),
                       dout, given), {"N": len(X)}, expected=[ok(*grads)]))
    return cases


def _parts(dout, c):
    X, X_hat, mu, var, gamma, eps = c
    return X, X_hat, mu, var, gamma, eps, dout * gamma, 1 / np.sqrt(var + eps), len(X)


def _bn_shortcut(dout, c):
    X, X_hat, mu, var, gamma, eps, dxh, inv, N = _parts(dout, c)
    return dxh * inv, (dout * X_hat).sum(0), dout.sum(0)


def _bn_no_mean_path(dout, c):
    X, X_hat, mu, var, gamma, eps, dxh, inv, N = _parts(dout, c)
    return inv * (dxh - X_hat * (dxh * X_hat).mean(0)), (dout * X_hat).sum(0), dout.sum(0)


def _bn_no_var_path(dout, c):
    X, X_hat, mu, var, gamma, eps, dxh, inv, N = _parts(dout, c)
    return inv * (dxh - dxh.mean(0)), (dout * X_hat).sum(0), dout.sum(0)


def _bn_n_minus_1(dout, c):
    X, X_hat, mu, var, gamma, eps, dxh, inv, N = _parts(dout, c)
    dvar = (dxh * (X - mu)).sum(0) * -0.5 * inv**3
    dmu = -(dxh * inv).sum(0)
    dX = dxh * inv + dvar * 2 * (X - mu) / (N - 1) + dmu / N
    return dX, (dout * X_hat).sum(0), dout.sum(0)


def _bn_swapped(dout, c):
    dX, dgamma, dbeta = layers.batchnorm_backward(dout, c)
    return dX, dbeta, dgamma


def _bn_dgamma_no_xhat(dout, c):
    dX, dgamma, dbeta = layers.batchnorm_backward(dout, c)
    return dX, dbeta, dbeta


batchnorm_backward = Exercise(
    name="batchnorm_backward", notebook="07_batch_normalization",
    signature="batchnorm_backward(dout, cache) -> (dX, dgamma, dbeta)",
    arg_names=("dout", "cache"), outputs=("dX", "dgamma", "dbeta"),
    make_cases=backward_cases, needs=("batchnorm_forward",),
    mistakes=[
        Mistake("the shortcut dX = dout·gamma/√(σ²+eps) treats μ and σ² as constants, but "
                "they depend on every X in the batch: add the paths through the mean and "
                "the variance (the notebook's compact formula).", fn=_bn_shortcut),
        Mistake("the path through the batch mean μ is missing: subtract the mean of dX̂ "
                "over the batch.", fn=_bn_no_mean_path),
        Mistake("the path through the batch variance σ² is missing: subtract "
                "X̂ · mean(dX̂ · X̂) over the batch.", fn=_bn_no_var_path),
        Mistake("the variance of the forward pass divides by N, so its derivative carries "
                "2(x − μ)/N, not 2(x − μ)/(N − 1).", fn=_bn_n_minus_1),
        Mistake("dX̂ = dout · gamma: the factor gamma is missing (out = gamma · X̂ + beta).",
                fn=lambda dout, c: layers.batchnorm_backward(dout / c[4], c)[:1]
                + layers.batchnorm_backward(dout, c)[1:]),
        Mistake("dgamma and dbeta are swapped: dgamma = Σₙ dout·X̂, dbeta = Σₙ dout.",
                fn=_bn_swapped),
        Mistake("gamma multiplies X̂, so dgamma = Σₙ dout·X̂ (the X̂ factor is missing).",
                fn=_bn_dgamma_no_xhat),
    ],
)

EXERCISES = [batchnorm_forward, batchnorm_backward]
