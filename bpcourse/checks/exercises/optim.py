"""Checks for the optimizer steps: SGD, SGD with momentum, Adam."""

import numpy as np

from ... import optim
from ..build import call, normal, sizes
from ..core import Case, Exercise, Mistake


def _shape(rng):
    return tuple(sizes(rng, 2))


def sgd_cases(rng, given):
    cases = []
    for dtype, label in ((np.float64, "float64"), (np.float32, "float32")):
        s = _shape(rng)
        lr = float(rng.choice([0.1, 0.01, 0.5]))
        cases.append(Case(f"random {label} weights {s}, lr = {lr}",
                          [call("sgd_step", normal(rng, s, dtype), normal(rng, s, dtype), lr)]))
    return cases


sgd_step = Exercise(
    name="sgd_step", notebook="09_optimizers",
    signature="sgd_step(w, dw, lr) -> w_new", arg_names=("w", "dw", "lr"), outputs=("w_new",),
    make_cases=sgd_cases,
    mistakes=[Mistake("gradient descent steps against the gradient: w_new = w − lr·dw "
                      "(yours adds lr·dw).", fn=lambda w, dw, lr: w + lr * dw)],
    hints=(
        'One line: a new array, moved against the gradient.',
        "The gradient points uphill; step the other way, by the learning rate times the "
        "gradient; do not change w in place.",
        'return w - lr * dw',
    ),
)


def momentum_cases(rng, given):
    cases = []
    s = _shape(rng)
    w, dw = normal(rng, s), normal(rng, s)
    cases.append(Case("the first step (velocity 0), momentum 0.9",
                      [call("sgd_momentum_step", w, dw, np.zeros(s), 0.1, 0.9)]))
    for dtype, label in ((np.float64, "float64"), (np.float32, "float32")):
        s = _shape(rng)
        mu = float(rng.choice([0.5, 0.8, 0.9]))
        cases.append(Case(f"a later step ({label}, velocity ≠ 0, momentum {mu})",
                          [call("sgd_momentum_step", normal(rng, s, dtype), normal(rng, s, dtype),
                                normal(rng, s, dtype), 0.05, mu)]))
    return cases


def _momentum_other_sign(w, dw, velocity, lr, momentum=0.9):
    v = momentum * velocity - lr * dw
    return w + v, v


def _momentum_dampened(w, dw, velocity, lr, momentum=0.9):
    v = momentum * velocity + (1 - momentum) * dw
    return w - lr * v, v


def _momentum_old_velocity(w, dw, velocity, lr, momentum=0.9):
    return w - lr * velocity, momentum * velocity + dw


sgd_momentum_step = Exercise(
    name="sgd_momentum_step", notebook="09_optimizers",
    signature="sgd_momentum_step(w, dw, velocity, lr, momentum=0.9) -> (w_new, velocity_new)",
    arg_names=("w", "dw", "velocity", "lr", "momentum"), outputs=("w_new", "velocity_new"),
    make_cases=momentum_cases,
    mistakes=[
        Mistake("momentum with the other sign convention (ũ ← ρũ − lr·dw, w ← w + ũ, as in "
                "CS231n): this course follows PyTorch, u ← ρu + dw and w ← w − lr·u. The "
                "weights move the same way, but the velocity differs by a factor −lr.",
                fn=_momentum_other_sign),
        Mistake("u ← ρu + (1 − ρ)dw is an exponential average (PyTorch's 'dampening'); "
                "PyTorch's momentum adds the whole gradient: u ← ρu + dw.", fn=_momentum_dampened),
        Mistake("update the velocity first, then step with the NEW velocity: w ← w − lr·v_new.",
                fn=_momentum_old_velocity),
        Mistake("the step is scaled by the learning rate: w ← w − lr·v (lr is missing).",
                fn=lambda w, dw, velocity, lr, momentum=0.9:
                (w - (momentum * velocity + dw), momentum * velocity + dw)),
    ],
    hints=(
        'First update the velocity, then step with the new velocity.',
        "PyTorch's convention: the velocity accumulates gradients, decaying by the momentum "
        "each step; the step is the learning rate times the new velocity, against it.",
        'velocity_new = momentum * velocity + dw; return w - lr * velocity_new, velocity_new',
    ),
)


def adam_cases(rng, given):
    cases = []
    s = _shape(rng)
    cases.append(Case("the first step, t = 1 (bias correction matters most)",
                      [call("adam_step", normal(rng, s), normal(rng, s), np.zeros(s), np.zeros(s),
                            1, 0.01)]))
    for dtype, label, t in ((np.float64, "float64", 3), (np.float32, "float32", 50)):
        s = _shape(rng)
        w, dw = normal(rng, s, dtype), normal(rng, s, dtype)
        m = normal(rng, s, dtype, scale=0.1)
        v = (normal(rng, s, dtype, scale=0.1) ** 2).astype(dtype)
        cases.append(Case(f"step t = {t} ({label}) with non-zero moments and betas (0.8, 0.99)",
                          [call("adam_step", w, dw, m, v, t, 0.005, 0.8, 0.99)]))
    s = _shape(rng)
    cases.append(Case("tiny gradients (1e-10), t = 1, w = 0: where eps matters",
                      [call("adam_step", np.zeros(s), normal(rng, s, scale=1e-10),
                            np.zeros(s), np.zeros(s), 1)]))
    return cases


def _adam(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, correct=True,
          eps_inside=False, t_offset=0, square=True, return_hat=False):
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * (dw * dw if square else dw)
    m_hat = m / (1 - beta1 ** (t + t_offset)) if correct else m
    v_hat = v / (1 - beta2 ** (t + t_offset)) if correct else v
    denom = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
    w_new = w - lr * m_hat / denom
    return (w_new, m_hat, v_hat) if return_hat else (w_new, m, v)


adam_step = Exercise(
    name="adam_step", notebook="09_optimizers",
    signature="adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8) -> (w_new, m_new, v_new)",
    arg_names=("w", "dw", "m", "v", "t", "lr", "beta1", "beta2", "eps"),
    outputs=("w_new", "m_new", "v_new"), make_cases=adam_cases,
    mistakes=[
        Mistake("Adam without bias correction: m and v start at 0, so divide them by "
                "(1 − β₁ᵗ) and (1 − β₂ᵗ) before the step.",
                fn=lambda *a, **k: _adam(*a, **k, correct=False)),
        Mistake("eps goes after the square root: w ← w − lr·m̂ / (√v̂ + eps), as in the paper "
                "and PyTorch (√(v̂ + eps) takes steps far too small for tiny gradients).",
                fn=lambda *a, **k: _adam(*a, **k, eps_inside=True)),
        Mistake("t is the 1-based step number: the bias correction uses β₁ᵗ and β₂ᵗ with t "
                "as given (not t+1).", fn=lambda *a, **k: _adam(*a, **k, t_offset=1)),
        Mistake("use the arguments lr, beta1, beta2 and eps, not fixed numbers: the check "
                "passes other values than the defaults.",
                fn=lambda w, dw, m, v, t, *rest, **k: _adam(w, dw, m, v, t)),
        Mistake("the second moment averages the SQUARED gradient: v ← β₂v + (1 − β₂)·dw².",
                fn=lambda *a, **k: _adam(*a, **k, square=False)),
        Mistake("return the raw moments m and v (the optimizer's state); the bias-corrected "
                "m̂ and v̂ are only used for this step.",
                fn=lambda *a, **k: _adam(*a, **k, return_hat=True)),
    ],
    hints=(
        "Two running averages (of the gradient and of its square), corrected for starting at "
        "zero, then a step scaled per entry.",
        "m averages dw with weight 1 − β₁, v averages dw² with weight 1 − β₂; at step t "
        "divide them by 1 − β₁ᵗ and 1 − β₂ᵗ; step by lr · m̂ / (√v̂ + eps); return the raw m "
        "and v, not the corrected ones.",
        "m = beta1*m + (1−beta1)*dw; v = beta2*v + (1−beta2)*dw*dw; m_hat = m / (1 − "
        "beta1**t); v_hat = v / (1 − beta2**t); return w − lr * m_hat / (np.sqrt(v_hat) + "
        "eps), m, v",
    ),
)

EXERCISES = [sgd_step, sgd_momentum_step, adam_step]
