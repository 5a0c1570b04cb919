"""bpcourse.layers: forward values, gradient checks, purity, dtypes, properties, bad input."""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from bpcourse import gradcheck, layers

from helpers import (
    DTYPES, D, M, N, SEEDS, TOL, assert_dtype, assert_gradient, assert_gradient_independently,
    call_pure, no_warnings, upstream,
)


def _bn_inputs(rng, n=N, d=D):
    """Features with non-zero means and different scales; non-trivial gamma and beta."""
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, size=d) + rng.normal(size=d) * 2
    gamma = rng.uniform(0.5, 2.0, size=d) * rng.choice([-1.0, 1.0], size=d)
    beta = rng.normal(size=d)
    return X, gamma, beta


# =============================================================== forward values (formulas here)

@pytest.mark.parametrize("seed", SEEDS)
def test_dense_forward_value(seed):
    rng = np.random.default_rng(seed)
    X, W, b = rng.normal(size=(N, D)), rng.normal(size=(D, M)), rng.normal(size=M)
    Z, _ = layers.dense_forward(X, W, b)
    expected = np.array([[sum(X[n, d] * W[d, m] for d in range(D)) + b[m] for m in range(M)]
                         for n in range(N)])
    assert Z.shape == (N, M)
    np.testing.assert_allclose(Z, expected, rtol=1e-12, atol=1e-12)


def test_activation_forward_values():
    Z = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0]])
    A, _ = layers.relu_forward(Z)
    np.testing.assert_array_equal(A, [[0.0, 0.0, 0.0, 0.5, 3.0]])
    A, _ = layers.sigmoid_forward(Z)
    np.testing.assert_allclose(A, 1 / (1 + np.exp(-Z)), rtol=1e-14)
    assert A[0, 2] == 0.5
    A, _ = layers.tanh_forward(Z)
    np.testing.assert_allclose(A, (np.exp(Z) - np.exp(-Z)) / (np.exp(Z) + np.exp(-Z)), rtol=1e-13)


@pytest.mark.parametrize("seed", SEEDS)
def test_batchnorm_forward_value(seed):
    rng = np.random.default_rng(seed)
    X, gamma, beta = _bn_inputs(rng)
    out, _ = layers.batchnorm_forward(X, gamma, beta, eps=1e-5)
    mu = X.sum(axis=0) / N
    var = ((X - mu) ** 2).sum(axis=0) / N  # biased
    expected = gamma * (X - mu) / np.sqrt(var + 1e-5) + beta
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("p", [0.25, 0.5, 0.8])
def test_dropout_forward_outputs_zero_or_scaled(p):
    rng = np.random.default_rng(0)
    X = rng.uniform(0.5, 1.5, size=(40, 30))  # never 0: out == 0 means dropped
    out, mask = layers.dropout_forward(X, p, np.random.default_rng(1))
    kept = out != 0
    np.testing.assert_allclose(out[kept], X[kept] / (1 - p), rtol=1e-14)
    assert 0 < kept.sum() < X.size
    # the cache holds the mask the backward applies: 0 where dropped, 1 / (1 - p) where kept
    np.testing.assert_allclose(mask[kept], 1 / (1 - p), rtol=1e-14)
    assert np.all(mask[~kept] == 0)


def test_dropout_same_seed_same_mask_and_edge_probabilities():
    X = np.random.default_rng(0).normal(size=(6, 7))
    a, _ = layers.dropout_forward(X, 0.4, np.random.default_rng(3))
    b, _ = layers.dropout_forward(X, 0.4, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    out, _ = layers.dropout_forward(X, 0.0, np.random.default_rng(3))
    np.testing.assert_array_equal(out, X)
    with no_warnings():
        out, mask = layers.dropout_forward(X, 1.0, np.random.default_rng(3))
        dX = layers.dropout_backward(np.ones_like(X), mask)
    assert np.all(out == 0) and np.all(dX == 0)


# =============================================================== gradient checks (float64)

@pytest.mark.parametrize("seed", SEEDS)
def test_dense_backward_gradcheck(seed):
    rng = np.random.default_rng(seed)
    X, W, b = rng.normal(size=(N, D)), rng.normal(size=(D, M)), rng.normal(size=M)
    G = upstream(rng, (N, M))
    dX, dW, db = layers.dense_backward(G, layers.dense_forward(X, W, b)[1])
    assert (dX.shape, dW.shape, db.shape) == ((N, D), (D, M), (M,))
    assert_gradient(dX, lambda v: np.sum(layers.dense_forward(v, W, b)[0] * G), X, "dX")
    assert_gradient(dW, lambda v: np.sum(layers.dense_forward(X, v, b)[0] * G), W, "dW")
    assert_gradient(db, lambda v: np.sum(layers.dense_forward(X, W, v)[0] * G), b, "db")


@pytest.mark.parametrize("seed", SEEDS)
def test_dense_backward_independent_gradcheck(seed):
    """The same check with a numerical gradient written in the tests and the loss in plain numpy."""
    rng = np.random.default_rng(seed)
    X, W, b = rng.normal(size=(N, D)), rng.normal(size=(D, M)), rng.normal(size=M)
    G = upstream(rng, (N, M))
    dX, dW, db = layers.dense_backward(G, layers.dense_forward(X, W, b)[1])
    loss = lambda X, W, b: float(np.sum((X @ W + b) * G))  # noqa: E731
    assert_gradient_independently(dX, lambda v: loss(v, W, b), X, "dX")
    assert_gradient_independently(dW, lambda v: loss(X, v, b), W, "dW")
    assert_gradient_independently(db, lambda v: loss(X, W, v), b, "db")


@pytest.mark.parametrize("seed", SEEDS)
def test_relu_backward_gradcheck_away_from_kink(seed):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(N, M))
    Z += np.sign(Z) * 0.05  # |Z| >= 0.05 >> h: no perturbation crosses the kink
    G = upstream(rng, (N, M))
    dZ = layers.relu_backward(G, layers.relu_forward(Z)[1])
    assert_gradient(dZ, lambda v: np.sum(layers.relu_forward(v)[0] * G), Z, "dZ")


@pytest.mark.parametrize("seed", SEEDS)
def test_relu_backward_with_exact_zeros(seed):
    """Inputs with exact zeros: kink-free entries are gradient-checked, zeros get derivative 0."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(N, M))
    Z += np.sign(Z) * 0.05
    zeros = rng.random(size=Z.shape) < 0.3
    zeros[0, 0] = True
    Z[zeros] = 0.0
    G = upstream(rng, (N, M))
    dZ = layers.relu_backward(G, layers.relu_forward(Z)[1])
    # the convention at exactly 0 (as in PyTorch): derivative 0, so no gradient passes
    assert np.all(dZ[zeros] == 0), dZ[zeros]
    # everywhere else, the analytic derivative: G where Z > 0, 0 where Z < 0
    np.testing.assert_array_equal(dZ[~zeros], np.where(Z[~zeros] > 0, G[~zeros], 0.0))
    # and against the numerical gradient at the kink-free entries only
    numeric = gradcheck.numerical_gradient(lambda v: np.sum(layers.relu_forward(v)[0] * G), Z)
    assert gradcheck.rel_error(dZ[~zeros], numeric[~zeros]) <= TOL
    # (at the kink the centred difference sees half a slope, G / 2: it is no ground truth there)
    np.testing.assert_allclose(numeric[zeros], G[zeros] / 2, rtol=1e-6)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_smooth_activation_backward_gradcheck(name, seed):
    forward, backward = getattr(layers, f"{name}_forward"), getattr(layers, f"{name}_backward")
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(N, M)) * 2
    G = upstream(rng, (N, M))
    dZ = backward(G, forward(Z)[1])
    assert_gradient(dZ, lambda v: np.sum(forward(v)[0] * G), Z, f"{name} dZ")


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", [(N, D), (8, 3)])
def test_batchnorm_backward_gradcheck(shape, seed):
    rng = np.random.default_rng(seed)
    X, gamma, beta = _bn_inputs(rng, *shape)
    G = upstream(rng, shape)
    dX, dgamma, dbeta = layers.batchnorm_backward(G, layers.batchnorm_forward(X, gamma, beta)[1])
    f = lambda X, g, b: np.sum(layers.batchnorm_forward(X, g, b)[0] * G)  # noqa: E731
    assert_gradient(dX, lambda v: f(v, gamma, beta), X, "dX")
    assert_gradient(dgamma, lambda v: f(X, v, beta), gamma, "dgamma")
    assert_gradient(dbeta, lambda v: f(X, gamma, v), beta, "dbeta")


@pytest.mark.parametrize("seed", SEEDS)
def test_batchnorm_backward_independent_gradcheck(seed):
    """Against a numerical gradient of batch norm written out in the test (biased variance)."""
    rng = np.random.default_rng(seed)
    X, gamma, beta = _bn_inputs(rng)
    G = upstream(rng, (N, D))
    eps = 1e-5

    def loss(X, g, b):
        mu = X.mean(axis=0)
        var = ((X - mu) ** 2).mean(axis=0)
        return float(np.sum((g * (X - mu) / np.sqrt(var + eps) + b) * G))

    dX, dgamma, dbeta = layers.batchnorm_backward(G, layers.batchnorm_forward(X, gamma, beta, eps)[1])
    assert_gradient_independently(dX, lambda v: loss(v, gamma, beta), X, "dX")
    assert_gradient_independently(dgamma, lambda v: loss(X, v, beta), gamma, "dgamma")
    assert_gradient_independently(dbeta, lambda v: loss(X, gamma, v), beta, "dbeta")


@pytest.mark.parametrize("seed", SEEDS)
def test_batchnorm_backward_is_the_full_gradient_not_the_shortcut(seed):
    """dX = dout·gamma/√(var+eps) ignores the paths through the batch mean and variance."""
    rng = np.random.default_rng(seed)
    X, gamma, beta = _bn_inputs(rng)
    G = upstream(rng, (N, D))
    eps = 1e-5
    numeric = gradcheck.numerical_gradient(
        lambda v: np.sum(layers.batchnorm_forward(v, gamma, beta, eps)[0] * G), X)
    shortcut = G * gamma / np.sqrt(X.var(axis=0) + eps)
    dX = layers.batchnorm_backward(G, layers.batchnorm_forward(X, gamma, beta, eps)[1])[0]
    assert gradcheck.rel_error(dX, numeric) <= TOL
    assert gradcheck.rel_error(shortcut, numeric) > 1e-2  # 5 orders of magnitude over TOL
    assert gradcheck.rel_error(dX, shortcut) > 1e-2
    # the full gradient sums to zero over the batch (shifting every row leaves out unchanged)
    np.testing.assert_allclose(dX.sum(axis=0), 0, atol=1e-10)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("p", [0.3, 0.6])
def test_dropout_backward_gradcheck_with_fixed_mask(p, seed):
    """The forward re-creates the same seeded Generator on every call: the mask is fixed."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D))
    G = upstream(rng, (N, D))
    mask_seed = 100 + seed
    forward = lambda v: layers.dropout_forward(v, p, np.random.default_rng(mask_seed))[0]  # noqa: E731
    _, cache = layers.dropout_forward(X, p, np.random.default_rng(mask_seed))
    dX = layers.dropout_backward(G, cache)
    assert_gradient(dX, lambda v: np.sum(forward(v) * G), X, "dropout dX")
    out = forward(X)
    assert np.all(dX[out == 0] == 0)
    np.testing.assert_allclose(dX[out != 0], G[out != 0] / (1 - p), rtol=1e-14)


# =============================================================== purity and dtypes

def _layer_calls(dtype):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, D)).astype(dtype)
    W, b = rng.normal(size=(D, M)).astype(dtype), rng.normal(size=M).astype(dtype)
    Z = rng.normal(size=(N, M)).astype(dtype)
    Z[0, 0] = 0
    G = rng.normal(size=(N, M)).astype(dtype)
    gamma = rng.uniform(0.5, 2, size=D).astype(dtype)
    beta = rng.normal(size=D).astype(dtype)
    GD = rng.normal(size=(N, D)).astype(dtype)
    return {
        "dense_forward": (layers.dense_forward, (X, W, b)),
        "dense_backward": (layers.dense_backward, (G, layers.dense_forward(X, W, b)[1])),
        "relu_forward": (layers.relu_forward, (Z,)),
        "relu_backward": (layers.relu_backward, (G, layers.relu_forward(Z)[1])),
        "sigmoid_forward": (layers.sigmoid_forward, (Z,)),
        "sigmoid_backward": (layers.sigmoid_backward, (G, layers.sigmoid_forward(Z)[1])),
        "tanh_forward": (layers.tanh_forward, (Z,)),
        "tanh_backward": (layers.tanh_backward, (G, layers.tanh_forward(Z)[1])),
        "batchnorm_forward": (layers.batchnorm_forward, (X, gamma, beta)),
        "batchnorm_backward": (layers.batchnorm_backward,
                               (GD, layers.batchnorm_forward(X, gamma, beta)[1])),
        "dropout_forward": (layers.dropout_forward, (X, 0.5, np.random.default_rng(0))),
        "dropout_backward": (layers.dropout_backward,
                             (GD, layers.dropout_forward(X, 0.5, np.random.default_rng(0))[1])),
    }


LAYER_FUNCTIONS = list(_layer_calls(np.float64))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", LAYER_FUNCTIONS)
def test_layer_function_is_pure_and_keeps_dtype(name, dtype):
    """No input (cache and dout included) is modified; every returned array keeps the dtype."""
    fn, args = _layer_calls(dtype)[name]
    result = call_pure(fn, *args)
    assert_dtype(result, dtype, name)


def test_batchnorm_eps_given_as_numpy_scalar_keeps_float32():
    """A hyper-parameter given as np.float64 must not promote float32 data to float64
    (the optimizers and dropout convert theirs to a Python float)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, D)).astype(np.float32)
    gamma, beta = np.ones(D, np.float32), np.zeros(D, np.float32)
    out, cache = layers.batchnorm_forward(X, gamma, beta, eps=np.float64(1e-5))
    assert out.dtype == np.float32
    assert_dtype(layers.batchnorm_backward(X, cache), np.float32, "batchnorm_backward")


# =============================================================== properties (hypothesis)

finite64 = st.floats(allow_nan=False, allow_infinity=False, width=64)
finite32 = st.floats(allow_nan=False, allow_infinity=False, width=32)


@settings(max_examples=60, deadline=None)
@given(st.data(), st.sampled_from(DTYPES))
def test_sigmoid_never_overflows_and_stays_in_unit_interval(data, dtype):
    elements = finite32 if dtype == np.float32 else finite64
    Z = data.draw(arrays(dtype, st.tuples(st.integers(1, 4), st.integers(1, 5)), elements=elements))
    with no_warnings():
        A, cache = layers.sigmoid_forward(Z)
        dZ = layers.sigmoid_backward(np.ones_like(Z), cache)
    assert A.dtype == dtype and dZ.dtype == dtype
    assert np.all((A >= 0) & (A <= 1))
    assert np.all(np.isfinite(dZ)) and np.all(dZ >= 0) and np.all(dZ <= 0.25)
    flat, order = Z.ravel(), np.argsort(Z.ravel(), kind="stable")
    assert np.all(np.diff(A.ravel()[order]) >= 0), "sigmoid must be non-decreasing"
    moderate = np.abs(flat) <= 30
    exact = 1 / (1 + np.exp(-flat[moderate].astype(np.float64)))
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(A.ravel()[moderate], exact, rtol=rtol)


def test_sigmoid_extremes():
    for dtype in DTYPES:
        big = np.finfo(dtype).max
        Z = np.array([[-big, -1000, 1000, big]], dtype=dtype)
        with no_warnings():
            A, _ = layers.sigmoid_forward(Z)
        np.testing.assert_array_equal(A, [[0, 0, 1, 1]])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(arrays(np.float64, st.tuples(st.integers(2, 12), st.integers(1, 4)),
              elements=st.floats(-1e4, 1e4, allow_nan=False)))
def test_batchnorm_output_is_standardized(X):
    eps = 1e-5
    var = X.var(axis=0)
    assume(np.all(var >= 1e3 * eps))  # per-feature variance not tiny relative to eps
    D_ = X.shape[1]
    with no_warnings():
        out, _ = layers.batchnorm_forward(X, np.ones(D_), np.zeros(D_), eps)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-9)
    out_var = out.var(axis=0)
    np.testing.assert_allclose(out_var, var / (var + eps), rtol=1e-7)
    np.testing.assert_allclose(out_var, 1, atol=1.01e-3)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(p=st.floats(0.05, 0.95), seed=st.integers(0, 2**32 - 1), dtype=st.sampled_from(DTYPES))
def test_dropout_keeps_about_one_minus_p_and_preserves_expectation(p, seed, dtype):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.5, 1.5, size=(200, 50)).astype(dtype)  # never 0
    out, _ = layers.dropout_forward(X, p, rng)
    n = X.size
    kept = np.count_nonzero(out)
    assert abs(kept - n * (1 - p)) <= 5 * np.sqrt(n * p * (1 - p)), (kept, n * (1 - p))
    # E[out] = X: the mean over many units matches, within 5 standard deviations
    sd = np.sqrt((X.astype(np.float64) ** 2).sum() * p / (1 - p)) / n
    assert abs(out.astype(np.float64).mean() - X.astype(np.float64).mean()) <= 5 * sd
    # every output is either 0 or X / (1 − p)
    nz = out != 0
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(out[nz], X[nz] / dtype(1 - p), rtol=rtol)


# =============================================================== bad input

def _dense_args():
    rng = np.random.default_rng(0)
    return rng.normal(size=(N, D)), rng.normal(size=(D, M)), rng.normal(size=M)


def test_dense_forward_shape_mismatch_names_both_shapes():
    X, W, b = _dense_args()
    with pytest.raises(ValueError, match=r"X has 3 features \(shape \(5, 3\)\) but W expects 4 "
                                         r"\(shape \(4, 3\)\)"):
        layers.dense_forward(X[:, :3], W, b)
    with pytest.raises(ValueError, match=r"b must have shape \(3,\).*got \(4,\)"):
        layers.dense_forward(X, W, np.zeros(4))
    with pytest.raises(ValueError, match=r"X must have shape \(N, D\), got shape \(4,\)"):
        layers.dense_forward(X[0], W, b)
    with pytest.raises(ValueError, match=r"dZ must have the same shape as Z = X W \+ b \(5, 3\), "
                                         r"got \(3, 5\)"):
        layers.dense_backward(np.zeros((M, N)), layers.dense_forward(X, W, b)[1])


@pytest.mark.parametrize("call", [
    lambda i: layers.dense_forward(i, np.zeros((D, M)), np.zeros(M)),
    lambda i: layers.dense_forward(np.zeros((N, D)), i.T, np.zeros(M)),
    lambda i: layers.relu_forward(i),
    lambda i: layers.sigmoid_forward(i),
    lambda i: layers.tanh_forward(i),
    lambda i: layers.batchnorm_forward(i, np.ones(D), np.zeros(D)),
    lambda i: layers.dropout_forward(i, 0.5, np.random.default_rng(0)),
    lambda i: layers.dropout_backward(i, np.ones((N, D))),
    lambda i: layers.relu_backward(i, np.ones((N, D))),
], ids=["dense X", "dense W", "relu", "sigmoid", "tanh", "batchnorm", "dropout", "dropout dout",
        "relu dA"])
def test_integer_arrays_are_rejected_with_dtype_and_astype(call):
    with pytest.raises(TypeError, match=r"got dtype int64; convert it with \w+\.astype\(np\.float64\)"):
        call(np.ones((N, D), dtype=np.int64))


def test_lists_are_rejected():
    with pytest.raises(TypeError, match="Z must be a numpy array, got list"):
        layers.relu_forward([[1.0, -1.0]])


def test_mixed_float32_float64_is_rejected():
    X, W, b = _dense_args()
    with pytest.raises(TypeError, match=r"X is float32 but W is float64.*W\.astype\(X\.dtype\)"):
        layers.dense_forward(X.astype(np.float32), W, b.astype(np.float32))
    with pytest.raises(TypeError, match=r"X is float64 but b is float32"):
        layers.dense_forward(X, W, b.astype(np.float32))
    with pytest.raises(TypeError, match=r"X is float32 but gamma is float64"):
        layers.batchnorm_forward(X.astype(np.float32), np.ones(D), np.zeros(D, np.float32))


def test_batchnorm_bad_parameters():
    X = np.random.default_rng(0).normal(size=(N, D))
    with pytest.raises(ValueError, match=r"gamma must have shape \(4,\).*got \(3,\)"):
        layers.batchnorm_forward(X, np.ones(3), np.zeros(D))
    with pytest.raises(ValueError, match=r"beta must have shape \(4,\)"):
        layers.batchnorm_forward(X, np.ones(D), np.zeros((1, D)))
    with pytest.raises(ValueError, match="eps must be positive, got 0.0"):
        layers.batchnorm_forward(X, np.ones(D), np.zeros(D), eps=0)
    with pytest.raises(ValueError, match=r"dout must have the same shape as X \(5, 4\)"):
        layers.batchnorm_backward(np.ones((N, 3)), layers.batchnorm_forward(X, np.ones(D), np.zeros(D))[1])


@pytest.mark.parametrize("p", [-0.1, 1.5, 2])
def test_dropout_p_outside_unit_interval(p):
    X = np.ones((N, D))
    with pytest.raises(ValueError, match=r"p \(the probability of dropping a unit\) must be in \[0, 1\]"):
        layers.dropout_forward(X, p, np.random.default_rng(0))


@pytest.mark.parametrize("rng", [np.random.RandomState(0), 0, None],
                         ids=["RandomState", "int", "None"])
def test_dropout_rng_must_be_a_generator(rng):
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator.*default_rng"):
        layers.dropout_forward(np.ones((N, D)), 0.5, rng)


def test_backward_rejects_dout_of_the_wrong_shape():
    Z = np.ones((N, M))
    for name in ("relu", "sigmoid", "tanh"):
        cache = getattr(layers, f"{name}_forward")(Z)[1]
        with pytest.raises(ValueError, match=r"dA must have the same shape as"):
            getattr(layers, f"{name}_backward")(np.ones((M, N)), cache)
    mask = layers.dropout_forward(Z, 0.5, np.random.default_rng(0))[1]
    with pytest.raises(ValueError, match="dout must have the same shape as the mask"):
        layers.dropout_backward(np.ones((M, N)), mask)
