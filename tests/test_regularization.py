"""Notebook 12's functions against their published rules (float64), the classes against the step
functions, the schedulers against their closed forms, and all of them against torch.optim and
torch.optim.lr_scheduler (when PyTorch is installed; optional, skipped with a reason)."""

import math

import numpy as np
import pytest

from bpcourse import gradcheck, lr_scheduler, nn, optim
from bpcourse.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR, StepLR, cosine_warmup_lr

from helpers import DTYPES, SEEDS, call_pure

TORCH_REASON = "PyTorch is optional: install torch==2.13.0 to compare with torch.optim"


# =============================================================== the step functions' rules

def test_sgd_weight_decay_hand_computed():
    w = optim.sgd_weight_decay_step(np.array([2.0]), np.array([0.5]), lr=0.1, weight_decay=0.01)
    assert w[0] == pytest.approx(2 - 0.1 * (0.5 + 0.01 * 2), rel=1e-15)     # 1.948


@pytest.mark.parametrize("seed", SEEDS)
def test_sgd_weight_decay_is_sgd_on_the_l2_penalised_loss(seed):
    """dw + λw is the gradient of L + λ/2‖w‖²: checked against numerical gradients."""
    rng = np.random.default_rng(seed)
    A, w = rng.normal(size=(5, 4)), rng.normal(size=4)
    lam, lr = 0.3, 0.05
    loss = lambda x: 0.5 * np.sum((A @ x - 1.0) ** 2)
    dw = A.T @ (A @ w - 1.0)
    num = gradcheck.numerical_gradient(lambda x: loss(x) + lam / 2 * np.sum(x * x), w)
    got = optim.sgd_weight_decay_step(w, dw, lr, lam)
    assert gradcheck.rel_error((w - got) / lr, num) < 1e-7
    np.testing.assert_allclose(got, (1 - lr * lam) * w - lr * dw, rtol=1e-14)   # the decay form


def test_sgd_weight_decay_zero_is_sgd():
    rng = np.random.default_rng(3)
    w, dw = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    np.testing.assert_array_equal(optim.sgd_weight_decay_step(w, dw, 0.1, 0.0), optim.sgd_step(w, dw, 0.1))


def test_rmsprop_first_step_hand_computed():
    w, g = np.array([1.0, -2.0]), np.array([0.5, -4.0])
    w_new, v = optim.rmsprop_step(w, g, np.zeros(2))         # PyTorch's defaults
    np.testing.assert_allclose(v, 0.01 * g**2, rtol=1e-15)
    np.testing.assert_allclose(w_new, w - 1e-2 * g / (0.1 * np.abs(g) + 1e-8), rtol=1e-15)


@pytest.mark.parametrize("seed", SEEDS)
def test_rmsprop_several_steps_follow_the_rule(seed):
    rng = np.random.default_rng(seed)
    w, v = rng.normal(size=(4, 3)), np.zeros((4, 3))
    ws, vs = w.copy(), v.copy()
    lr, alpha, eps = 0.02, 0.9, 1e-6
    for _ in range(6):
        g = rng.normal(size=(4, 3))
        w, v = optim.rmsprop_step(w, g, v, lr, alpha, eps)
        vs = alpha * vs + (1 - alpha) * g * g
        ws = ws - lr * g / (np.sqrt(vs) + eps)
        np.testing.assert_allclose(v, vs, rtol=1e-14)
        np.testing.assert_allclose(w, ws, rtol=1e-13)


def test_rmsprop_constant_gradient_steps_are_lr_over_root_of_one_minus_alpha_t():
    w, v, g = np.zeros(1), np.zeros(1), np.array([0.5])
    for t in range(1, 200):
        w_new, v = optim.rmsprop_step(w, g, v, lr=0.01, alpha=0.99, eps=0.0 + 1e-300)
        assert (w - w_new)[0] == pytest.approx(0.01 / math.sqrt(1 - 0.99**t), rel=1e-12)
        w = w_new


@pytest.mark.parametrize("seed", SEEDS)
def test_adamw_is_adam_on_the_decayed_weights(seed):
    rng = np.random.default_rng(seed)
    w, dw = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    m, v = rng.normal(size=(3, 5)) * 0.1, rng.normal(size=(3, 5)) ** 2
    args = (7, 0.05, 0.8, 0.99, 1e-8)
    got = optim.adamw_step(w, dw, m, v, *args, weight_decay=0.4)
    # the published rule, written out: w(1 − lr·λ) − lr · m̂ / (√v̂ + ε), m and v from dw alone
    m_new = 0.8 * m + 0.2 * dw
    v_new = 0.99 * v + 0.01 * dw * dw
    w_new = w * (1 - 0.05 * 0.4) - 0.05 * (m_new / (1 - 0.8**7)) / (np.sqrt(v_new / (1 - 0.99**7)) + 1e-8)
    for a, b in zip(got, (w_new, m_new, v_new)):
        np.testing.assert_allclose(a, b, rtol=1e-13)
    plain = optim.adamw_step(w, dw, m, v, *args, weight_decay=0.0)
    for a, b in zip(plain, optim.adam_step(w, dw, m, v, *args)):
        np.testing.assert_array_equal(a, b)


def test_adamw_without_gradient_decays_geometrically_and_l2_in_adam_does_not():
    w, m, v = np.array([0.5]), np.zeros(1), np.zeros(1)
    wl, ml, vl = w.copy(), m.copy(), v.copy()
    for t in range(1, 101):
        w, m, v = optim.adamw_step(w, np.zeros(1), m, v, t, lr=0.01, weight_decay=1.0)
        wl, ml, vl = optim.adam_step(wl, 1e-4 * wl, ml, vl, t, lr=0.01)   # L2 with λ = 1e-4
    assert w[0] == pytest.approx(0.5 * 0.99**100, rel=1e-12)
    assert abs(wl[0]) < 0.05        # L2 inside Adam: about lr per step, whatever λ


@pytest.mark.parametrize("dtype", DTYPES)
def test_new_step_functions_are_pure_and_keep_the_dtype(dtype):
    rng = np.random.default_rng(0)
    w, dw = rng.normal(size=(3, 4)).astype(dtype), rng.normal(size=(3, 4)).astype(dtype)
    m, v = np.zeros_like(w), np.zeros_like(w)
    outs = [call_pure(optim.sgd_weight_decay_step, w, dw, 0.1, 0.01)]
    outs += list(call_pure(optim.rmsprop_step, w, dw, v))
    outs += list(call_pure(optim.adamw_step, w, dw, m, v, 1))
    assert all(o.dtype == dtype and o.shape == w.shape for o in outs)


def test_bad_hyperparameters_are_named():
    w = np.ones(3)
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        optim.sgd_weight_decay_step(w, w, 0.1, -1.0)
    with pytest.raises(TypeError, match="weight_decay must be a number"):
        optim.adamw_step(w, w, w, w, 1, weight_decay="0.1")
    with pytest.raises(ValueError, match="alpha"):
        optim.rmsprop_step(w, w, w, alpha=1.5)
    with pytest.raises(ValueError, match="1-based step"):
        optim.adamw_step(w, w, w, w, 0)
    with pytest.raises(ValueError, match="weight_decay"):
        optim.AdamW([nn.Parameter(np.ones(2))], weight_decay=-0.1)


# =============================================================== the classes

def _params(rng, big=False):
    shapes = [(300, 200), (200,), (7, 5)] if big else [(4, 3), (3,), (2, 5)]
    return [nn.Parameter(rng.normal(size=s), f"p{i}") for i, s in enumerate(shapes)]


CLASSES = {
    "SGD wd": (lambda ps: optim.SGD(ps, lr=0.1, weight_decay=0.05),
               lambda w, g, s, t: (optim.sgd_weight_decay_step(w, g, 0.1, 0.05), s)),
    "SGD momentum wd": (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.8, weight_decay=0.05),
                        lambda w, g, s, t: optim.sgd_momentum_step(w, g + 0.05 * w, s, 0.1, 0.8)),
    "RMSprop": (lambda ps: optim.RMSprop(ps, lr=0.01, alpha=0.9),
                lambda w, g, s, t: optim.rmsprop_step(w, g, s, 0.01, 0.9)),
    "RMSprop wd": (lambda ps: optim.RMSprop(ps, lr=0.01, weight_decay=0.1),
                   lambda w, g, s, t: optim.rmsprop_step(w, g + 0.1 * w, s, 0.01)),
    "Adam wd (L2)": (lambda ps: optim.Adam(ps, lr=0.05, weight_decay=0.1),
                     lambda w, g, s, t: _adam_state(optim.adam_step(w, g + 0.1 * w, *s, t, 0.05))),
    "AdamW": (lambda ps: optim.AdamW(ps, lr=0.05, weight_decay=0.1),
              lambda w, g, s, t: _adam_state(optim.adamw_step(w, g, *s, t, 0.05, weight_decay=0.1))),
}


def _adam_state(result):
    w, m, v = result
    return w, (m, v)


@pytest.mark.parametrize("big", [False, True], ids=["small", "large"])
@pytest.mark.parametrize("kind", list(CLASSES))
def test_class_trajectory_matches_the_step_functions(kind, big):
    make, rule = CLASSES[kind]
    rng = np.random.default_rng(5)
    params = _params(rng, big)
    ws = [p.data.copy() for p in params]
    adam = kind.startswith("Adam")
    state = [(np.zeros_like(w), np.zeros_like(w)) if adam else np.zeros_like(w) for w in ws]
    opt = make(params)
    for t in range(1, 6):
        grads = [rng.normal(size=w.shape) for w in ws]
        for p, g in zip(params, grads):
            p.grad[...] = g
        opt.step()
        for k, g in enumerate(grads):
            ws[k], state[k] = rule(ws[k], g, state[k], t)
        for p, w in zip(params, ws):
            np.testing.assert_allclose(p.data, w, rtol=1e-13, atol=1e-15)


def test_adamw_defaults_are_pytorchs():
    opt = optim.AdamW([nn.Parameter(np.ones(2))])
    assert (opt.lr, opt.betas, opt.eps, opt.weight_decay) == (1e-3, (0.9, 0.999), 1e-8, 1e-2)
    r = optim.RMSprop([nn.Parameter(np.ones(2))])
    assert (r.lr, r.alpha, r.eps, r.weight_decay) == (1e-2, 0.99, 1e-8, 0.0)
    assert optim.lr_scheduler is lr_scheduler


# =============================================================== schedules

def _values(make, steps):
    opt = optim.SGD([nn.Parameter(np.zeros(1))], lr=0.3)
    s = make(opt)
    out = [opt.lr]
    for _ in range(steps):
        s.step()
        assert s.get_last_lr() == [opt.lr]
        out.append(opt.lr)
    return np.array(out)


def test_schedulers_follow_their_closed_forms():
    t = np.arange(21)
    np.testing.assert_allclose(_values(lambda o: StepLR(o, 4, 0.5), 20), 0.3 * 0.5 ** (t // 4), rtol=1e-15)
    np.testing.assert_allclose(_values(lambda o: CosineAnnealingLR(o, 20, 0.01), 20),
                               0.01 + 0.29 * (1 + np.cos(np.pi * t / 20)) / 2, rtol=1e-15)
    np.testing.assert_allclose(_values(lambda o: LinearLR(o, 0.25, 1.0, 8), 20),
                               0.3 * (0.25 + 0.75 * np.minimum(t, 8) / 8), rtol=1e-15)


@pytest.mark.parametrize("W, T, low", [(0, 10, 0.0), (1, 5, 0.01), (3, 20, 1e-3), (5, 30, 0.0)])
def test_cosine_warmup_lr_is_sequential_linear_then_cosine(W, T, low):
    if W:
        seq = _values(lambda o: SequentialLR(o, [LinearLR(o, 1 / (W + 1), 1.0, W),
                                                 CosineAnnealingLR(o, T - W, low)], [W]), T)
    else:
        seq = _values(lambda o: CosineAnnealingLR(o, T, low), T)
    mine = np.array([cosine_warmup_lr(s, 0.3, W, T, low) for s in range(T + 1)])
    np.testing.assert_allclose(mine, seq, rtol=1e-14, atol=1e-17)
    assert mine[0] == pytest.approx(0.3 / (W + 1)) and mine[W] == pytest.approx(0.3)
    assert mine[T] == pytest.approx(low, abs=1e-17) and cosine_warmup_lr(T + 7, 0.3, W, T, low) == low
    assert np.all(np.diff(mine[:W + 1]) > 0) and np.all(np.diff(mine[W:]) < 0)


def test_schedule_bad_input_is_named():
    with pytest.raises(ValueError, match="total_steps must be larger than warmup_steps"):
        cosine_warmup_lr(0, 0.1, 5, 5)
    with pytest.raises(ValueError, match="min_lr must be at most base_lr"):
        cosine_warmup_lr(0, 0.1, 0, 5, min_lr=0.2)
    with pytest.raises(TypeError, match="step must be an integer"):
        cosine_warmup_lr(1.5, 0.1, 0, 5)
    with pytest.raises(TypeError, match="optimizer with an lr"):
        StepLR(object(), 3)
    opt = optim.SGD([nn.Parameter(np.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="one milestone fewer"):
        SequentialLR(opt, [LinearLR(opt), CosineAnnealingLR(opt, 5)], [2, 3])


# =============================================================== against PyTorch (optional)

def _torch_trajectory(torch, make, w0, grads):
    p = torch.nn.Parameter(torch.tensor(w0))
    opt = make(torch.optim, [p])
    for g in grads:
        p.grad = torch.tensor(g)
        opt.step()
    return p.detach().numpy()


TORCH_PAIRS = {
    "SGD weight_decay": (lambda o, ps: o.SGD(ps, lr=0.1, weight_decay=0.05)),
    "SGD momentum weight_decay": (lambda o, ps: o.SGD(ps, lr=0.1, momentum=0.8, weight_decay=0.05)),
    "RMSprop": (lambda o, ps: o.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-8)),
    "RMSprop weight_decay": (lambda o, ps: o.RMSprop(ps, lr=0.01, weight_decay=0.1)),
    "Adam weight_decay": (lambda o, ps: o.Adam(ps, lr=0.05, weight_decay=0.1)),
    "AdamW": (lambda o, ps: o.AdamW(ps, lr=0.05, weight_decay=0.1)),
    "AdamW defaults": (lambda o, ps: o.AdamW(ps)),
}


@pytest.mark.parametrize("kind", list(TORCH_PAIRS))
def test_the_optimizers_agree_with_torch_optim(kind):
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    rng = np.random.default_rng(11)
    w0 = rng.normal(size=(6, 4))
    grads = [rng.normal(size=(6, 4)) for _ in range(10)]
    theirs = _torch_trajectory(torch, TORCH_PAIRS[kind], w0, grads)
    ours = nn.Parameter(w0.copy())
    opt = TORCH_PAIRS[kind](optim, [ours])     # the same names, arguments and defaults
    for g in grads:
        ours.grad[...] = g
        opt.step()
    np.testing.assert_allclose(ours.data, theirs, rtol=1e-12, atol=1e-14)


def test_the_step_functions_agree_with_torch_optim():
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    rng = np.random.default_rng(12)
    w0 = rng.normal(size=(5, 3))
    grads = [rng.normal(size=(5, 3)) for _ in range(8)]
    w, v = w0.copy(), np.zeros_like(w0)
    wa, m, va = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    ws = w0.copy()
    for t, g in enumerate(grads, 1):
        w, v = optim.rmsprop_step(w, g, v, 0.01, 0.99, 1e-8)
        wa, m, va = optim.adamw_step(wa, g, m, va, t, 1e-3, 0.9, 0.999, 1e-8, 1e-2)
        ws = optim.sgd_weight_decay_step(ws, g, 0.1, 0.05)
    np.testing.assert_allclose(w, _torch_trajectory(torch, lambda o, ps: o.RMSprop(ps), w0, grads),
                               rtol=1e-12)
    np.testing.assert_allclose(wa, _torch_trajectory(torch, lambda o, ps: o.AdamW(ps), w0, grads),
                               rtol=1e-12)
    np.testing.assert_allclose(ws, _torch_trajectory(torch, lambda o, ps: o.SGD(ps, lr=0.1, weight_decay=0.05),
                                                     w0, grads), rtol=1e-12)


def _torch_schedule(torch, make, steps):
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=0.3)
    s = make(torch.optim.lr_scheduler, opt)
    out = [opt.param_groups[0]["lr"]]
    for _ in range(steps):
        p.grad = torch.zeros(1, dtype=torch.float64)
        opt.step()
        s.step()
        out.append(s.get_last_lr()[0])
    return np.array(out)


SCHEDULES = {
    "StepLR": lambda L, o: L.StepLR(o, step_size=4, gamma=0.5),
    "CosineAnnealingLR": lambda L, o: L.CosineAnnealingLR(o, T_max=20, eta_min=0.01),
    "LinearLR": lambda L, o: L.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=8),
    "SequentialLR warm-up + cosine": lambda L, o: L.SequentialLR(
        o, [L.LinearLR(o, start_factor=1 / 4, total_iters=3), L.CosineAnnealingLR(o, T_max=17, eta_min=0.001)],
        milestones=[3]),
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_the_schedulers_agree_with_torch_lr_scheduler(name):
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    theirs = _torch_schedule(torch, SCHEDULES[name], 20)
    ours = _values(lambda o: SCHEDULES[name](lr_scheduler, o), 20)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    if name.startswith("SequentialLR"):
        mine = [cosine_warmup_lr(s, 0.3, 3, 20, 0.001) for s in range(21)]
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-15)
