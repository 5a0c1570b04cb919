"""bpcourse.optim: the update rules written out step by step here, and the classes over Parameters."""

import numpy as np
import pytest

from bpcourse import nn, optim

from helpers import DTYPES, SEEDS, assert_dtype, call_pure

SHAPE = (4, 3)


def _grads(rng, steps, shape=SHAPE):
    """A sequence of different, non-trivial gradients (signs and magnitudes vary)."""
    return [rng.normal(size=shape) * rng.uniform(0.1, 3) for _ in range(steps)]


# =============================================================== step functions

@pytest.mark.parametrize("seed", SEEDS)
def test_sgd_step(seed):
    rng = np.random.default_rng(seed)
    w, dw = rng.normal(size=SHAPE), rng.normal(size=SHAPE)
    w_new = optim.sgd_step(w, dw, 0.05)
    for i in np.ndindex(*SHAPE):
        assert w_new[i] == pytest.approx(w[i] - 0.05 * dw[i], rel=1e-15, abs=1e-15)


def test_sgd_momentum_hand_computed():
    # w = 1, g = 1 every step, lr = 0.1, μ = 0.9:
    # v: 1, 1.9, 2.71;  w: 1 − 0.1 = 0.9, 0.9 − 0.19 = 0.71, 0.71 − 0.271 = 0.439
    w, v = np.array([1.0]), np.zeros(1)
    expected = [(0.9, 1.0), (0.71, 1.9), (0.439, 2.71)]
    for w_exp, v_exp in expected:
        w, v = optim.sgd_momentum_step(w, np.array([1.0]), v, 0.1, 0.9)
        assert w[0] == pytest.approx(w_exp, rel=1e-14) and v[0] == pytest.approx(v_exp, rel=1e-14)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
def test_sgd_momentum_several_steps(momentum, seed):
    """PyTorch's convention: v ← μ v + g (no dampening), w ← w − lr v."""
    rng = np.random.default_rng(seed)
    w0 = rng.normal(size=SHAPE)
    lr = 0.03
    w, vel = w0, np.zeros(SHAPE)
    w_ref, v_ref = w0.tolist(), [[0.0] * SHAPE[1] for _ in range(SHAPE[0])]
    for g in _grads(rng, 5):
        w, vel = optim.sgd_momentum_step(w, g, vel, lr, momentum)
        for i in range(SHAPE[0]):
            for j in range(SHAPE[1]):
                v_ref[i][j] = momentum * v_ref[i][j] + g[i, j]
                w_ref[i][j] = w_ref[i][j] - lr * v_ref[i][j]
        np.testing.assert_allclose(vel, v_ref, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(w, w_ref, rtol=1e-13, atol=1e-15)


def test_adam_first_step_hand_computed():
    """At t=1 (m = v = 0) bias correction gives m̂ = g, v̂ = g²: Δw = −lr·g / (|g| + eps)."""
    lr, eps = 0.01, 1e-8
    g = np.array([0.5, -2e-3, 3.0, 1e-8, -1e-9])
    w = np.array([1.0, -1.0, 0.0, 2.0, 0.5])
    w_new, m, v = optim.adam_step(w, g, np.zeros(5), np.zeros(5), 1, lr=lr, eps=eps)
    # |g| >> eps: a step of ≈ lr against the gradient's sign, whatever |g| is
    np.testing.assert_allclose((w_new - w)[:3], [-0.01, 0.01, -0.01], rtol=1e-5)
    # g = eps exactly: the step is lr · eps / (eps + eps) = lr / 2 (eps outside the square root)
    assert w_new[3] - w[3] == pytest.approx(-0.005, rel=1e-9)
    # g = eps / 10: lr · 1e-9 / 1.1e-8 = lr / 11
    assert w_new[4] - w[4] == pytest.approx(0.01 / 11, rel=1e-8)
    np.testing.assert_allclose(m, 0.1 * g, rtol=1e-15)
    np.testing.assert_allclose(v, 0.001 * g * g, rtol=1e-12)
    np.testing.assert_allclose(np.abs(w_new - w), lr * np.abs(g) / (np.abs(g) + eps), rtol=1e-9)


def test_adam_constant_gradient_steps_stay_lr():
    """With a constant gradient, bias correction makes m̂ = g and v̂ = g² at EVERY step,
    so each step is −lr·g/(|g| + eps); without it the steps would grow from 0.1·lr/√0.001."""
    g = np.array([0.3, -4.0])
    w, m, v = np.zeros(2), np.zeros(2), np.zeros(2)
    for t in range(1, 6):
        w_new, m, v = optim.adam_step(w, g, m, v, t, lr=0.1)
        np.testing.assert_allclose(w_new - w, -0.1 * np.sign(g), rtol=1e-6)
        w = w_new


@pytest.mark.parametrize("seed", SEEDS)
def test_adam_several_steps(seed):
    rng = np.random.default_rng(seed)
    lr, b1, b2, eps = 0.02, 0.8, 0.99, 1e-6
    w0 = rng.normal(size=SHAPE)
    w, m, v = w0, np.zeros(SHAPE), np.zeros(SHAPE)
    W = w0.copy().ravel().tolist()
    Mr, Vr = [0.0] * w0.size, [0.0] * w0.size
    for t, g in enumerate(_grads(rng, 6), start=1):
        w, m, v = optim.adam_step(w, g, m, v, t, lr=lr, beta1=b1, beta2=b2, eps=eps)
        for k, gk in enumerate(g.ravel()):
            Mr[k] = b1 * Mr[k] + (1 - b1) * gk
            Vr[k] = b2 * Vr[k] + (1 - b2) * gk * gk
            m_hat = Mr[k] / (1 - b1 ** t)
            v_hat = Vr[k] / (1 - b2 ** t)
            W[k] = W[k] - lr * m_hat / (v_hat ** 0.5 + eps)
        np.testing.assert_allclose(m.ravel(), Mr, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(v.ravel(), Vr, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(w.ravel(), W, rtol=1e-12, atol=1e-14)


def test_adam_default_hyperparameters_are_pytorchs():
    g = np.array([2.0, -0.5])
    w_new, m, v = optim.adam_step(np.zeros(2), g, np.zeros(2), np.zeros(2), 1)
    np.testing.assert_allclose(m, 0.1 * g, rtol=1e-15)      # beta1 = 0.9
    np.testing.assert_allclose(v, 0.001 * g * g, rtol=1e-12)  # beta2 = 0.999
    np.testing.assert_allclose(w_new, -1e-3 * g / (np.abs(g) + 1e-8), rtol=1e-12)  # lr = 1e-3


# =============================================================== purity and dtypes

def _optim_calls(dtype, scalar=float):
    rng = np.random.default_rng(0)
    w, dw, a, b = (rng.normal(size=SHAPE).astype(dtype) for _ in range(4))
    b = np.abs(b)
    return {
        "sgd_step": (optim.sgd_step, (w, dw, scalar(0.1)), {}),
        "sgd_momentum_step": (optim.sgd_momentum_step, (w, dw, a, scalar(0.1), scalar(0.9)), {}),
        "adam_step": (optim.adam_step, (w, dw, a, b, 3),
                      dict(lr=scalar(0.01), beta1=scalar(0.9), beta2=scalar(0.99), eps=scalar(1e-8))),
    }


@pytest.mark.parametrize("scalar", [float, np.float64], ids=["python-float", "np.float64"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(_optim_calls(np.float64)))
def test_step_function_is_pure_and_keeps_dtype(name, dtype, scalar):
    """w, dw and the state arrays (velocity, m, v) are not modified; dtype is kept,
    even with hyper-parameters given as numpy float64 scalars."""
    fn, args, kwargs = _optim_calls(dtype, scalar)[name]
    result = call_pure(fn, *args, **kwargs)
    assert_dtype(result, dtype, name)


@pytest.mark.parametrize("dtype", DTYPES)
def test_classes_keep_parameter_dtype(dtype):
    for make in (lambda ps: optim.SGD(ps, lr=0.1), lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
                 lambda ps: optim.Adam(ps, lr=0.1)):
        p = nn.Parameter(np.ones(SHAPE, dtype=dtype))
        p.grad[...] = 0.5
        opt = make([p])
        opt.step()
        opt.step()
        assert p.data.dtype == dtype and p.grad.dtype == dtype
        assert not np.allclose(p.data, 1)


# =============================================================== classes over Parameters

def _params(rng, dtype=np.float64):
    return [nn.Parameter(rng.normal(size=s).astype(dtype), f"p{i}")
            for i, s in enumerate([(4, 3), (3,), (2, 5)])]


def _quadratic_grads(params, targets):
    """Gradients of Σ ½‖p − target‖² · scale that depend on the current values."""
    for k, (p, t) in enumerate(zip(params, targets)):
        p.grad[...] = (p.data - t) * (k + 1)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", ["sgd", "momentum", "adam"])
def test_class_trajectory_matches_step_functions(kind, seed):
    rng = np.random.default_rng(seed)
    params = _params(rng)
    targets = [rng.normal(size=p.shape) for p in params]
    data0 = [p.data.copy() for p in params]
    if kind == "sgd":
        opt = optim.SGD(params, lr=0.1)
    elif kind == "momentum":
        opt = optim.SGD(params, lr=0.1, momentum=0.8)
    else:
        opt = optim.Adam(params, lr=0.05, betas=(0.85, 0.98), eps=1e-7)
    # the same trajectory with repeated step-function calls
    ws = [w.copy() for w in data0]
    state = [(np.zeros_like(w), np.zeros_like(w)) for w in ws]
    for t in range(1, 6):
        _quadratic_grads(params, targets)
        ids_before = [id(p.data) for p in params]
        opt.step()
        assert [id(p.data) for p in params] == ids_before, "step() must update p.data in place"
        for k, (w, target) in enumerate(zip(ws, targets)):
            g = (w - target) * (k + 1)
            if kind == "sgd":
                ws[k] = optim.sgd_step(w, g, 0.1)
            elif kind == "momentum":
                ws[k], vel = optim.sgd_momentum_step(w, g, state[k][0], 0.1, 0.8)
                state[k] = (vel, None)
            else:
                ws[k], m, v = optim.adam_step(w, g, *state[k], t, 0.05, 0.85, 0.98, 1e-7)
                state[k] = (m, v)
        for p, w in zip(params, ws):
            np.testing.assert_allclose(p.data, w, rtol=1e-14, atol=1e-15)
    # and the loss went down: the parameters approach their targets
    for p, w0, t in zip(params, data0, targets):
        assert np.linalg.norm(p.data - t) < np.linalg.norm(w0 - t)


def test_sgd_momentum_class_hand_computed():
    p = nn.Parameter(np.array([1.0]))
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    for expected in (0.9, 0.71, 0.439):
        p.grad[...] = 1.0
        opt.step()
        assert p.data[0] == pytest.approx(expected, rel=1e-14)


def test_adam_class_first_step_is_lr_per_coordinate():
    p = nn.Parameter(np.array([1.0, -1.0, 0.0]))
    p.grad[...] = [2.0, -0.01, 50.0]
    optim.Adam([p], lr=0.01).step()
    np.testing.assert_allclose(p.data, [0.99, -0.99, -0.01], rtol=1e-6)


def test_optimizer_zero_grad_zeroes_every_gradient():
    rng = np.random.default_rng(0)
    params = _params(rng)
    for p in params:
        p.grad[...] = rng.normal(size=p.shape)
    grads = [p.grad for p in params]
    for opt in (optim.SGD(params, lr=0.1), optim.Adam(params)):
        opt.zero_grad()
        for p, g in zip(params, grads):
            assert np.all(p.grad == 0)
            assert p.grad is g  # zeroed in place, like PyTorch's grad buffers
        for p in params:
            p.grad[...] = 1.0


def test_module_zero_grad():
    model = nn.Sequential(nn.Dense(3, 4, rng=0, dtype=np.float64), nn.ReLU(),
                          nn.BatchNorm(4, dtype=np.float64), nn.Dense(4, 2, rng=1, dtype=np.float64))
    rng = np.random.default_rng(0)
    model.forward(rng.normal(size=(6, 3)))
    model.backward(rng.normal(size=(6, 2)))
    assert all(np.any(p.grad != 0) for p in model.parameters())
    model.zero_grad()
    assert all(np.all(p.grad == 0) for p in model.parameters())


def test_gradients_accumulate_across_two_backward_calls():
    """As in PyTorch: backward adds into .grad; only zero_grad resets it."""
    rng = np.random.default_rng(0)
    layer = nn.Dense(4, 3, rng=0, dtype=np.float64)
    X1, X2 = rng.normal(size=(5, 4)), rng.normal(size=(6, 4))
    G1, G2 = rng.normal(size=(5, 3)), rng.normal(size=(6, 3))
    layer.forward(X1)
    layer.backward(G1)
    np.testing.assert_allclose(layer.W.grad, X1.T @ G1, rtol=1e-13)
    layer.forward(X2)
    layer.backward(G2)
    np.testing.assert_allclose(layer.W.grad, X1.T @ G1 + X2.T @ G2, rtol=1e-13)
    np.testing.assert_allclose(layer.b.grad, G1.sum(axis=0) + G2.sum(axis=0), rtol=1e-13)
    opt = optim.SGD(layer.parameters(), lr=0.1)
    opt.zero_grad()
    layer.forward(X2)
    layer.backward(G2)
    np.testing.assert_allclose(layer.W.grad, X2.T @ G2, rtol=1e-13)


# =============================================================== bad input

@pytest.mark.parametrize("t", [0, -1, 1.0, 2.5, True])
def test_adam_step_requires_a_positive_integer_t(t):
    z = np.zeros(3)
    with pytest.raises(ValueError, match=r"t is the 1-based step number \(1 for the first step\)"):
        optim.adam_step(z, z, z, z, t)


def test_step_functions_reject_bad_arrays():
    w = np.zeros(SHAPE)
    with pytest.raises(ValueError, match=r"dw must have the same shape as w \(4, 3\), got \(3, 4\)"):
        optim.sgd_step(w, np.zeros((3, 4)), 0.1)
    with pytest.raises(ValueError, match=r"velocity must have the same shape as w"):
        optim.sgd_momentum_step(w, w, np.zeros(3), 0.1)
    with pytest.raises(TypeError, match=r"w is float64 but dw is float32"):
        optim.sgd_step(w, w.astype(np.float32), 0.1)
    with pytest.raises(TypeError, match=r"m is float64 but v is float32|w is float64 but v is float32"):
        optim.adam_step(w, w, w, w.astype(np.float32), 1)
    with pytest.raises(TypeError, match=r"got dtype int64; convert it with w\.astype\(np\.float64\)"):
        optim.sgd_step(np.zeros(SHAPE, dtype=np.int64), w, 0.1)


def test_step_functions_reject_bad_hyperparameters():
    w = np.zeros(SHAPE)
    with pytest.raises(ValueError, match="lr must be positive, got -0.1"):
        optim.sgd_step(w, w, -0.1)
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\), got 1.0"):
        optim.sgd_momentum_step(w, w, w, 0.1, momentum=1.0)
    with pytest.raises(ValueError, match=r"beta2 must be in \[0, 1\]"):
        optim.adam_step(w, w, w, w, 1, beta2=1.5)
    with pytest.raises(ValueError, match="eps must be positive"):
        optim.adam_step(w, w, w, w, 1, eps=0.0)


def test_optimizer_classes_reject_bad_arguments():
    p = nn.Parameter(np.zeros(3))
    with pytest.raises(ValueError, match="empty parameter list; pass model.parameters()"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="lr must be positive"):
        optim.Adam([p], lr=0)
    with pytest.raises(ValueError, match=r"betas\[0\] must be in \[0, 1\), got 1.0"):
        optim.Adam([p], betas=(1.0, 0.999))
