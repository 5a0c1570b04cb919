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
    hints=(
        "Statistics per feature, over the batch; the cache holds everything the backward pass"
        " reads.",
        "mu and var are (D,) vectors along axis=0; var is the biased variance (divide by N, "
        "np.var's default); eps goes inside the square root; then the learnable scale and "
        "shift.",
        "mu = X.mean(axis=0); var = X.var(axis=0); X_hat = (X − mu) / np.sqrt(var + eps); out"
        " = gamma * X_hat + beta; return out, (X, X_hat, mu, var, gamma, eps)",
    ),
)


def _backward_cases(name):
    def make(rng, given):
        cases = []
        for dtype, label in ((np.float64, "float64"), (np.float32, "float32")):
            X, gamma, beta = _inputs(rng, dtype)
            out, c = layers.batchnorm_forward(X, gamma, beta)
            dout = normal(rng, X.shape, dtype)
            cases.append(Case(
                f"random {label} inputs, X {X.shape}, non-trivial gamma, beta and dout",
                backward_calls(name, "batchnorm_forward", (X, gamma, beta), cache(*c), dout,
                               given), {"N": len(X)}))
        X, gamma, beta = _inputs(rng, N=5)
        _, c = layers.batchnorm_forward(X, gamma, beta)
        dout = normal(rng, X.shape)
        grads = numerical_grads(
            lambda X, g, b: float(np.sum(layers.batchnorm_forward(X, g, b)[0] * dout)),
            [X, gamma, beta])
        cases.append(Case(
            "gradient check: dX, dgamma, dbeta against centred numerical gradients (float64)",
            backward_calls(name, "batchnorm_forward", (X, gamma, beta), cache(*c), dout, given),
            {"N": len(X)}, expected=[ok(*grads)]))
        return cases
    return make


def _dX_and_cache(case, got):
    """The learner's dX (float64) and the documented cache of the first call."""
    item = got[0]["returned"]["items"][0]
    X, X_hat, mu, var, gamma, eps = case.calls[0]["args"][1]["tuple"]
    return np.asarray(item["value"], np.float64), X_hat.astype(np.float64), var, eps, \
        np.asarray(case.calls[0]["args"][0], np.float64) * gamma


def _mean_not_removed(case, got, expected=None):
    """Σₙ dX ≠ 0 in some feature: the mean path is wrong or missing."""
    dX, X_hat, var, eps, dX_hat = _dX_and_cache(case, got)
    scale = np.abs(dX).sum(axis=0).max()
    return scale > 0 and np.abs(dX.sum(axis=0)).max() > 1e-6 * scale


def _not_orthogonal(case, got, expected=None):
    """Σₙ dX·X̂ differs from what the full gradient gives (ε/(σ²+ε)^(3/2)·Σₙ dX̂·X̂, about
    0): the variance path is wrong, its sign for instance."""
    dX, X_hat, var, eps, dX_hat = _dX_and_cache(case, got)
    predicted = eps / (var + eps) ** 1.5 * (dX_hat * X_hat).sum(axis=0)
    scale = np.abs(dX * X_hat).sum(axis=0).max()
    return scale > 0 and np.abs((dX * X_hat).sum(axis=0) - predicted).max() > 1e-4 * scale


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


def _bn_variance_sign(dout, c):
    X, X_hat, mu, var, gamma, eps, dxh, inv, N = _parts(dout, c)
    dX = inv * (dxh - dxh.mean(0) + X_hat * (dxh * X_hat).mean(0))
    return dX, (dout * X_hat).sum(0), dout.sum(0)


def _bn_no_std_derivative(dout, c):
    """The graph walked with ds = Σ dX̂·c but without the −1/s² of d(1/s)."""
    X, X_hat, mu, var, gamma, eps, dxh, inv, N = _parts(dout, c)
    Xc, std = X - mu, np.sqrt(var + eps)
    dvar = (dxh * Xc).sum(0) / (2 * std)
    dXc = dxh / std + dvar * 2 * Xc / N
    return dXc - dXc.mean(0), (dout * X_hat).sum(0), dout.sum(0)


def _bn_overwritten(dout, c):
    """dXc = dvar·2Xc/N replaces the direct path instead of adding to it."""
    X, X_hat, mu, var, gamma, eps, dxh, inv, N = _parts(dout, c)
    Xc, std = X - mu, np.sqrt(var + eps)
    dvar = -(dxh * Xc).sum(0) / std**2 / (2 * std)
    dXc = dvar * 2 * Xc / N
    return dXc - dXc.mean(0), (dout * X_hat).sum(0), dout.sum(0)


MEAN_INVARIANT = ("Σₙ dX is not 0 in every feature, but it must be: adding a constant to a column "
                  "of X changes nothing after normalization. The path through the mean μ is "
                  "wrong or missing (dμ = −Σₙ dXc, then dX += dμ/N).")
VARIANCE_INVARIANT = ("Σₙ dX·X̂ is not (about) 0 in every feature, but it must be: stretching a "
                      "column around its mean changes nothing after normalization. The path "
                      "through the variance is wrong: check its sign (d(1/s) = −1/s² ds) and "
                      "that its part is added to the direct one (dXc += dvar·2Xc/N).")

_SHARED_MISTAKES = [
    Mistake("the shortcut dX = dout·gamma/√(σ²+eps) treats μ and σ² as constants, but "
            "they depend on every X in the batch: add the paths through the mean and "
            "the variance.", fn=_bn_shortcut),
    Mistake("the path through the batch mean μ is missing: subtract the mean of dX̂ "
            "over the batch.", fn=_bn_no_mean_path),
    Mistake("the path through the batch variance σ² is missing: subtract "
            "X̂ · mean(dX̂ · X̂) over the batch.", fn=_bn_no_var_path),
    Mistake("the variance path has the wrong sign: the variance grows when a value moves "
            "away from the mean, and 1/s falls, so its term is −X̂ · mean(dX̂ · X̂).",
            fn=_bn_variance_sign),
    Mistake("the variance of the forward pass divides by N, so its derivative carries "
            "2(x − μ)/N, not 2(x − μ)/(N − 1).", fn=_bn_n_minus_1),
    Mistake("dX̂ = dout · gamma: the factor gamma is missing (out = gamma · X̂ + beta).",
            fn=lambda dout, c: layers.batchnorm_backward(dout / c[4], c)[:1]
            + layers.batchnorm_backward(dout, c)[1:]),
    Mistake("dgamma and dbeta are swapped: dgamma = Σₙ dout·X̂, dbeta = Σₙ dout.",
            fn=_bn_swapped),
    Mistake("gamma multiplies X̂, so dgamma = Σₙ dout·X̂ (the X̂ factor is missing).",
            fn=_bn_dgamma_no_xhat),
]
_INVARIANTS = [Mistake(MEAN_INVARIANT, test=_mean_not_removed),
               Mistake(VARIANCE_INVARIANT, test=_not_orthogonal)]

batchnorm_backward_graph = Exercise(
    name="batchnorm_backward_graph", notebook="07_batch_normalization",
    signature="batchnorm_backward_graph(dout, cache) -> (dX, dgamma, dbeta)",
    arg_names=("dout", "cache"), outputs=("dX", "dgamma", "dbeta"),
    make_cases=_backward_cases("batchnorm_backward_graph"), needs=("batchnorm_forward",),
    mistakes=_SHARED_MISTAKES + [
        Mistake("in step 2 the derivative of 1/s is −1/s²: ds = −Σₙ dX̂·Xc / s² (the minus and "
                "the square are easy to lose).", fn=_bn_no_std_derivative),
        Mistake("Xc is used twice (in X̂ = Xc/s and in σ² = mean(Xc²)), so its gradient is the "
                "SUM of both contributions: dXc = dX̂/s first, then dXc += dvar·2Xc/N (not =).",
                fn=_bn_overwritten),
    ] + _INVARIANTS,
    hints=(
        "Walk the six nodes of the graph backward, one line each; a node used by several others "
        "collects the sum of their gradients.",
        "Recompute Xc = X − mu and s = √(var + eps). Then: out = γX̂ + β gives dbeta, dgamma and "
        "dX̂; X̂ = Xc/s gives dXc (direct) and ds; s = √(var + eps) gives dvar; var = mean(Xc²) "
        "adds to dXc; Xc = X − mu gives dX and dmu; mu = mean(X) adds to dX.",
        "dbeta = Σₙ dout; dgamma = Σₙ dout·X̂; dX̂ = dout·γ; dXc = dX̂/s; ds = −Σₙ dX̂·Xc / s²; "
        "dvar = ds/(2s); dXc += dvar·2Xc/N; dmu = −Σₙ dXc; dX = dXc + dmu/N (every Σₙ a "
        ".sum(axis=0)).",
    ),
)

batchnorm_backward = Exercise(
    name="batchnorm_backward", notebook="07_batch_normalization",
    signature="batchnorm_backward(dout, cache) -> (dX, dgamma, dbeta)",
    arg_names=("dout", "cache"), outputs=("dX", "dgamma", "dbeta"),
    make_cases=_backward_cases("batchnorm_backward"), needs=("batchnorm_forward",),
    mistakes=_SHARED_MISTAKES + _INVARIANTS,
    hints=(
        "One expression for dX, written with dX̂ (that is dout·γ), X̂ and s (the standard "
        "deviation √(σ² + ε)), and two sums over the batch.",
        "Write the three paths of the graph version in terms of X̂ (x − μ = s·X̂): the direct "
        "term dX̂/s loses, per feature, its mean over the batch and its component along X̂.",
        "dX = (1/N)/√(var + eps) · (N·dX̂ − Σₙ dX̂ − X̂·Σₙ(dX̂·X̂)), dX̂ = dout·γ; dgamma = "
        "Σₙ dout·X̂; dbeta = Σₙ dout (every Σₙ a .sum(axis=0)).",
    ),
)

EXERCISES = [batchnorm_forward, batchnorm_backward_graph, batchnorm_backward]
