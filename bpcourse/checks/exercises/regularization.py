"""Checks for notebook 12: SGD with weight decay, RMSProp, AdamW and the cosine schedule with
a linear warm-up (PyTorch's rules and defaults)."""

import math

import numpy as np

from ..build import call, normal, sizes
from ..core import Case, Exercise, Mistake

F64, F32 = np.float64, np.float32


def _shape(rng):
    return tuple(sizes(rng, 2))


def _w(rng, s, dtype=F64):
    """Weights far from 0 (|w| ~ 1 to 3): what the decay acts on is visible."""
    return (normal(rng, s, dtype) + np.sign(normal(rng, s, dtype))).astype(dtype)


# ---------------------------------------------------------------- sgd_weight_decay_step

def sgd_wd_cases(rng, given):
    cases = []
    s = _shape(rng)
    cases.append(Case(f"random float64 weights {s}, lr = 0.1, weight_decay = 0.05",
                      [call("sgd_weight_decay_step", _w(rng, s), normal(rng, s), 0.1, 0.05)]))
    s = _shape(rng)
    cases.append(Case(f"float32 weights {s}, lr = 0.05, weight_decay = 0.02",
                      [call("sgd_weight_decay_step", _w(rng, s, F32), normal(rng, s, F32), 0.05,
                            0.02)]))
    s = _shape(rng)
    cases.append(Case("a zero gradient: only the decay acts (w shrinks by the factor 1 − lr·λ)",
                      [call("sgd_weight_decay_step", _w(rng, s), np.zeros(s), 0.5, 0.02)]))
    s = _shape(rng)
    cases.append(Case("a typical weight decay, 5e-4, with lr = 0.1 (float64)",
                      [call("sgd_weight_decay_step", _w(rng, s), normal(rng, s), 0.1, 5e-4)]))
    s = _shape(rng)
    cases.append(Case("weight_decay = 0: plain SGD",
                      [call("sgd_weight_decay_step", _w(rng, s), normal(rng, s), 0.1, 0.0)]))
    return cases


def hidden_sgd_wd_cases(rng, given):
    """A vector, a large lr·λ, a large float32 matrix."""
    return [
        Case("a vector w (7,), lr = 1.0, weight_decay = 0.5 (w halves, then the gradient step)",
             [call("sgd_weight_decay_step", _w(rng, 7), normal(rng, 7), 1.0, 0.5)], hidden=True),
        Case("float32 weights (61, 47), lr = 0.3, weight_decay = 0.05",
             [call("sgd_weight_decay_step", _w(rng, (61, 47), F32), normal(rng, (61, 47), F32), 0.3,
                   0.05)], hidden=True),
    ]


sgd_weight_decay_step = Exercise(
    name="sgd_weight_decay_step", notebook="12_regularization",
    signature="sgd_weight_decay_step(w, dw, lr, weight_decay) -> w_new",
    arg_names=("w", "dw", "lr", "weight_decay"), outputs=("w_new",),
    make_cases=sgd_wd_cases, hidden_cases=hidden_sgd_wd_cases,
    mistakes=[
        Mistake("the decay is part of the gradient, so the learning rate multiplies it too: "
                "w_new = w − lr·(dw + λw); yours subtracts λw without the lr (each step should "
                "shrink w by the factor 1 − lr·λ, not 1 − λ).",
                fn=lambda w, dw, lr, weight_decay: w - lr * dw - weight_decay * w),
        Mistake("the penalty λ/2·‖w‖² pulls w toward 0: its gradient +λw is ADDED to dw, and "
                "the step subtracts it (yours makes the weights grow).",
                fn=lambda w, dw, lr, weight_decay: w - lr * (dw - weight_decay * w)),
        Mistake("the gradient of λ/2·‖w‖² is λw: the ½ cancels the 2 of w² (PyTorch's "
                "weight_decay=λ adds λw, not 2λw).",
                fn=lambda w, dw, lr, weight_decay: w - lr * (dw + 2 * weight_decay * w)),
        Mistake("the gradient of λ/2·‖w‖² is λw, not λw/2 (the ½ is already cancelled by the "
                "derivative of w²).",
                fn=lambda w, dw, lr, weight_decay: w - lr * (dw + weight_decay * w / 2)),
        Mistake("add the penalty's GRADIENT λw (an array like w) to dw, not the penalty "
                "λ/2·‖w‖² itself (a number).",
                fn=lambda w, dw, lr, weight_decay: w - lr * (dw + weight_decay / 2 * np.sum(w * w))),
        Mistake("the weight decay is missing: this is plain SGD. Add λw to the gradient.",
                fn=lambda w, dw, lr, weight_decay: w - lr * dw),
    ],
    hints=(
        "Add the gradient of the penalty to the data's gradient, then take an ordinary SGD step.",
        "The penalty λ/2·‖w‖² has gradient λ·w (same shape as w); SGD subtracts lr times the "
        "whole gradient, so every step multiplies w by (1 − lr·λ) before the usual −lr·dw.",
        "return w - lr * (dw + weight_decay * w)",
    ),
)


# ---------------------------------------------------------------- rmsprop_step

def rmsprop_cases(rng, given):
    cases = []
    s = _shape(rng)
    cases.append(Case("the first step (v = 0) with the defaults: PyTorch's lr = 1e-2, "
                      "alpha = 0.99, eps = 1e-8",
                      [call("rmsprop_step", _w(rng, s), normal(rng, s), np.zeros(s))]))
    s = _shape(rng)
    v = normal(rng, s, scale=0.5) ** 2
    cases.append(Case("a later step (v ≠ 0), lr = 0.005, alpha = 0.9, eps = 1e-6 (float64)",
                      [call("rmsprop_step", _w(rng, s), normal(rng, s), v, 0.005, 0.9, 1e-6)]))
    s = _shape(rng)
    v = (normal(rng, s, F32, 0.5) ** 2).astype(F32)
    cases.append(Case("a later step in float32, lr = 0.01, alpha = 0.95, eps = 1e-8",
                      [call("rmsprop_step", _w(rng, s, F32), normal(rng, s, F32), v, 0.01, 0.95,
                            1e-8)]))
    s = _shape(rng)
    cases.append(Case("tiny gradients (1e-10), v = 0, w = 0: where eps matters",
                      [call("rmsprop_step", np.zeros(s), normal(rng, s, scale=1e-10),
                            np.zeros(s), 0.01, 0.99, 1e-8)]))
    return cases


def _rmsprop(w, dw, v, lr=1e-2, alpha=0.99, eps=1e-8, eps_inside=False, swapped=False,
             old_v=False, no_root=False, return_rms=False):
    v_new = (1 - alpha) * v + alpha * dw * dw if swapped else alpha * v + (1 - alpha) * dw * dw
    used = v if old_v else v_new
    if no_root:
        denom = used + eps
    else:
        denom = np.sqrt(used + eps) if eps_inside else np.sqrt(used) + eps
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        w_new = w - lr * dw / denom
    return w_new, (np.sqrt(v_new) if return_rms else v_new)


def _rmsprop_keras_defaults(w, dw, v, lr=1e-3, alpha=0.9, eps=1e-7):
    return _rmsprop(w, dw, v, lr, alpha, eps)


def hidden_rmsprop_cases(rng, given):
    """alpha = 0 (v is the last dw²), a vector, large v with small gradients."""
    s = _shape(rng)
    return [
        Case("alpha = 0: v is the last dw² alone, the step is about lr·sign(dw)",
             [call("rmsprop_step", _w(rng, s), normal(rng, s), normal(rng, s) ** 2, 0.01, 0.0, 1e-8)],
             hidden=True),
        Case("a vector (9,), large v (about 100) and small gradients (about 0.01), float32",
             [call("rmsprop_step", _w(rng, 9, F32), normal(rng, 9, F32, 0.01),
                   (100 + normal(rng, 9, F32) ** 2).astype(F32), 0.02, 0.9, 1e-8)], hidden=True),
    ]


rmsprop_step = Exercise(
    name="rmsprop_step", notebook="12_regularization",
    signature="rmsprop_step(w, dw, v, lr=1e-2, alpha=0.99, eps=1e-8) -> (w_new, v_new)",
    arg_names=("w", "dw", "v", "lr", "alpha", "eps"), outputs=("w_new", "v_new"),
    make_cases=rmsprop_cases, hidden_cases=hidden_rmsprop_cases,
    mistakes=[
        Mistake("eps goes after the square root: w − lr·dw / (√v + eps), as in PyTorch "
                "(√(v + eps) takes far too small steps when the gradients are tiny).",
                fn=lambda *a, **k: _rmsprop(*a, **k, eps_inside=True)),
        Mistake("alpha weighs the OLD average: v ← α·v + (1 − α)·dw² (with α = 0.99 the "
                "average moves 1 % toward each new dw²); yours swaps α and 1 − α.",
                fn=lambda *a, **k: _rmsprop(*a, **k, swapped=True)),
        Mistake("update v first, then step with the NEW v (PyTorch's order): with the old v "
                "the first step divides by eps alone.",
                fn=lambda *a, **k: _rmsprop(*a, **k, old_v=True)),
        Mistake("divide by the ROOT of the mean square, √v + eps: v has the units of dw², "
                "√v those of dw, so the step is about lr whatever the gradient's scale.",
                fn=lambda *a, **k: _rmsprop(*a, **k, no_root=True)),
        Mistake("return v itself (the running mean of dw²) as the state, not its root √v: "
                "the next call averages squares with squares.",
                fn=lambda *a, **k: _rmsprop(*a, **k, return_rms=True)),
        Mistake("the defaults are PyTorch's: lr=1e-2, alpha=0.99, eps=1e-8 (yours look like "
                "Keras's lr=1e-3, rho=0.9, epsilon=1e-7).", fn=_rmsprop_keras_defaults),
        Mistake("use the arguments lr, alpha and eps, not fixed numbers: the check passes "
                "other values than the defaults.",
                fn=lambda w, dw, v, *rest, **k: _rmsprop(w, dw, v)),
    ],
    hints=(
        "Adam's second moment without the first, and without bias correction: a running mean "
        "of the squared gradient, then a step divided by its root.",
        "v becomes α times the old v plus (1 − α) times dw²; then w moves by lr·dw divided by "
        "(√v + eps), with the new v; return the raw v as the state.",
        "v_new = alpha * v + (1 - alpha) * dw * dw; return w - lr * dw / (np.sqrt(v_new) + "
        "eps), v_new",
    ),
)


# ---------------------------------------------------------------- adamw_step

def adamw_cases(rng, given):
    cases = []
    s = _shape(rng)
    cases.append(Case("the first step, t = 1, lr = 0.01, weight_decay = 0.1 (float64)",
                      [call("adamw_step", _w(rng, s), normal(rng, s), np.zeros(s), np.zeros(s), 1,
                            0.01, 0.9, 0.999, 1e-8, 0.1)]))
    s = _shape(rng)
    cases.append(Case("the defaults: PyTorch's AdamW, lr = 1e-3, betas (0.9, 0.999), eps = 1e-8, "
                      "weight_decay = 1e-2 (t = 1)",
                      [call("adamw_step", _w(rng, s), normal(rng, s), np.zeros(s), np.zeros(s),
                            1)]))
    s = _shape(rng)
    m, v = normal(rng, s, scale=0.1), normal(rng, s, scale=0.3) ** 2
    cases.append(Case("step t = 5 with non-zero moments, lr = 0.05, betas (0.8, 0.99), "
                      "eps = 1e-8, weight_decay = 0.5 (lr·λ large: the order of the decay shows)",
                      [call("adamw_step", _w(rng, s), normal(rng, s), m, v, 5, 0.05, 0.8, 0.99,
                            1e-8, 0.5)]))
    s = _shape(rng)
    m, v = normal(rng, s, F32, 0.1), (normal(rng, s, F32, 0.3) ** 2).astype(F32)
    cases.append(Case("float32, t = 20, lr = 0.01, weight_decay = 2 (a 2 % decay: visible in "
                      "float32)",
                      [call("adamw_step", _w(rng, s, F32), normal(rng, s, F32), m, v, 20, 0.01,
                            0.9, 0.999, 1e-8, 2.0)]))
    s = _shape(rng)
    cases.append(Case("a zero gradient (and zero moments), t = 1: only the decay acts, "
                      "w · (1 − lr·λ)",
                      [call("adamw_step", _w(rng, s), np.zeros(s), np.zeros(s), np.zeros(s), 1,
                            0.01, 0.9, 0.999, 1e-8, 0.1)]))
    s = _shape(rng)
    cases.append(Case("tiny gradients (1e-10), t = 1, w = 0: where eps matters",
                      [call("adamw_step", np.zeros(s), normal(rng, s, scale=1e-10), np.zeros(s),
                            np.zeros(s), 1, 0.01, 0.9, 0.999, 1e-8, 0.1)]))
    return cases


def _adamw(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2,
           decay="before", correct=True, eps_inside=False):
    """adamw_step with one thing done differently; ``decay`` is where the decay goes."""
    g = dw + weight_decay * w if decay in ("l2", "both") else dw
    if decay in ("before", "both"):
        w = w * (1 - lr * weight_decay)
    elif decay == "without_lr":
        w = w * (1 - weight_decay)
    elif decay == "grows":
        w = w * (1 + lr * weight_decay)
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    m_hat = m / (1 - beta1**t) if correct else m
    v_hat = v / (1 - beta2**t) if correct else v
    denom = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
    w_new = w - lr * m_hat / denom
    if decay == "after":
        w_new = w_new * (1 - lr * weight_decay)
    return w_new, m, v


def _adamw_variant(**wrong):
    return lambda *args, **kwargs: _adamw(*args, **kwargs, **wrong)


def hidden_adamw_cases(rng, given):
    """A late step (t = 1000: no bias correction left), weight_decay = 0 (Adam), a vector."""
    s = _shape(rng)
    m, v = normal(rng, s, scale=0.1), normal(rng, s, scale=0.3) ** 2
    cases = [Case("a late step, t = 1000, lr = 0.003, weight_decay = 0.05",
                  [call("adamw_step", _w(rng, s), normal(rng, s), m, v, 1000, 0.003, 0.9, 0.999, 1e-8,
                        0.05)], hidden=True)]
    m, v = normal(rng, 11, scale=0.1), normal(rng, 11, scale=0.3) ** 2
    cases.append(Case("weight_decay = 0: Adam's step (a vector (11,), t = 3)",
                      [call("adamw_step", _w(rng, 11), normal(rng, 11), m, v, 3, 0.01, 0.9, 0.999,
                            1e-8, 0.0)], hidden=True))
    return cases


adamw_step = Exercise(
    name="adamw_step", notebook="12_regularization",
    signature="adamw_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, "
              "weight_decay=1e-2) -> (w_new, m_new, v_new)",
    arg_names=("w", "dw", "m", "v", "t", "lr", "beta1", "beta2", "eps", "weight_decay"),
    outputs=("w_new", "m_new", "v_new"), make_cases=adamw_cases, hidden_cases=hidden_adamw_cases,
    mistakes=[
        Mistake("this is Adam with L2 regularization (λw added to the gradient, PyTorch's "
                "Adam(weight_decay=λ)), not decoupled weight decay: in AdamW the moments see dw "
                "alone, and w is multiplied by (1 − lr·λ) separately.",
                fn=_adamw_variant(decay="l2")),
        Mistake("the decay is multiplied by the learning rate in PyTorch's AdamW: w · (1 − lr·λ), "
                "not w · (1 − λ). (Loshchilov & Hutter's paper scales it by the schedule's "
                "multiplier η_t instead; PyTorch by lr.)",
                fn=_adamw_variant(decay="without_lr")),
        Mistake("decay first, as PyTorch does: w is multiplied by (1 − lr·λ) BEFORE Adam's step "
                "is subtracted (yours decays the updated weights, which also shrinks the step).",
                fn=_adamw_variant(decay="after")),
        Mistake("decoupled weight decay replaces L2, it does not come on top of it: the moments "
                "see dw alone (yours also adds λw to the gradient).",
                fn=_adamw_variant(decay="both")),
        Mistake("weight decay shrinks the weights: multiply by (1 − lr·λ), not (1 + lr·λ).",
                fn=_adamw_variant(decay="grows")),
        Mistake("Adam's bias correction is part of AdamW: divide m and v by (1 − β₁ᵗ) and "
                "(1 − β₂ᵗ) before the step.", fn=_adamw_variant(correct=False)),
        Mistake("eps goes after the square root: lr·m̂ / (√v̂ + eps), as in Adam.",
                fn=_adamw_variant(eps_inside=True)),
        Mistake("the weight decay is missing: this is plain Adam. Multiply w by (1 − lr·λ).",
                fn=_adamw_variant(decay="none")),
        Mistake("use the arguments (lr, the betas, eps, weight_decay), not fixed numbers: the "
                "check passes other values than the defaults.",
                fn=lambda w, dw, m, v, t, *rest, **k: _adamw(w, dw, m, v, t)),
    ],
    hints=(
        "Adam's step exactly as before, on the gradient alone, plus a shrinking of the weights "
        "that does not pass through the moments.",
        "First multiply w by (1 − lr·λ) (PyTorch's order); then update m and v with dw only, "
        "bias-correct them, and subtract lr·m̂ / (√v̂ + eps); return the raw m and v.",
        "w = w * (1 - lr * weight_decay); m = beta1*m + (1−beta1)*dw; v = beta2*v + "
        "(1−beta2)*dw*dw; m_hat = m / (1 − beta1**t); v_hat = v / (1 − beta2**t); return "
        "w − lr * m_hat / (np.sqrt(v_hat) + eps), m, v",
    ),
)


# ---------------------------------------------------------------- cosine_warmup_lr

def cosine_cases(rng, given):
    base, W, T, low = 0.1, 5, 30, 1e-3
    args = (base, W, T, low)

    def case(step, what, *a):
        a = a or args
        given = ", ".join(f"{name} {x:g}" for name, x in
                          zip(("base_lr", "warmup_steps", "total_steps", "min_lr"), a))
        return Case(f"step {step}, {what} ({given})", [call("cosine_warmup_lr", step, *a)])

    return [
        case(0, "the first step: the warm-up's lowest rate, not 0"),
        case(2, "in the warm-up"),
        case(4, "the last warm-up step: still below base_lr"),
        case(5, "the end of the warm-up: base_lr"),
        case(12, "in the cosine"),
        case(29, "the last of 30 training steps: just above min_lr"),
        case(30, "step total_steps: min_lr"),
        case(40, "after total_steps: min_lr"),
        case(7, "no warm-up: the cosine from step 0", 0.05, 0, 10, 0.0),
        Case("step 3 with min_lr left at its default (0.0), no warm-up",
             [call("cosine_warmup_lr", 3, 0.02, 0, 8)]),
    ]


def _cosine(step, base_lr, warmup_steps, total_steps, min_lr=0.0, warmup="right", t_over="T",
            floor="min", clamp=True, rising=False, shift=True):
    W, T = warmup_steps, total_steps
    if step < W:
        if warmup == "from_zero":
            return base_lr * step / W
        if warmup == "early":
            return base_lr * (step + 1) / W
        return base_lr * (step + 1) / (W + 1)
    if clamp and step >= T:
        return min_lr
    t, span = (step - W, T - W) if shift else (step, T)
    if t_over == "T-1":
        span -= 1
    c = math.cos(math.pi * t / span)
    shape = (1 - c) / 2 if rising else (1 + c) / 2
    if floor == "ignored":
        return base_lr * shape
    if floor == "added":
        return min_lr + base_lr * shape
    return min_lr + (base_lr - min_lr) * shape


def _cosine_variant(**wrong):
    return lambda *args, **kwargs: _cosine(*args, **kwargs, **wrong)


def hidden_cosine_cases(rng, given):
    """One warm-up step; a cosine of one step; a long schedule at its middle."""
    return [
        Case("step 0 with warmup_steps 1: half of base_lr",
             [call("cosine_warmup_lr", 0, 0.4, 1, 10, 0.0)], hidden=True),
        Case("step 3 of a cosine one step long (warmup_steps 3, total_steps 4): base_lr",
             [call("cosine_warmup_lr", 3, 0.2, 3, 4, 0.01)], hidden=True),
        Case("the middle of the cosine, step 550 (warmup_steps 100, total_steps 1000): "
             "(base_lr + min_lr)/2",
             [call("cosine_warmup_lr", 550, 1e-3, 100, 1000, 1e-5)], hidden=True),
        Case("the last warm-up step, step 99 of 100", [call("cosine_warmup_lr", 99, 1e-3, 100, 1000)],
             hidden=True),
    ]


cosine_warmup_lr = Exercise(
    name="cosine_warmup_lr", notebook="12_regularization",
    signature="cosine_warmup_lr(step, base_lr, warmup_steps, total_steps, min_lr=0.0) -> lr",
    arg_names=("step", "base_lr", "warmup_steps", "total_steps", "min_lr"), outputs=("lr",),
    make_cases=cosine_cases, hidden_cases=hidden_cosine_cases,
    mistakes=[
        Mistake("warm-up off by one: the first step (step 0) must not have lr 0 (a wasted "
                "step); this course's warm-up is base_lr·(step + 1)/(W + 1), PyTorch's "
                "LinearLR with start_factor 1/(W + 1).", fn=_cosine_variant(warmup="from_zero")),
        Mistake("warm-up off by one: base_lr·(step + 1)/W reaches base_lr one step early (at "
                "step W − 1); the warm-up is base_lr·(step + 1)/(W + 1), which reaches base_lr "
                "at step W, where the cosine starts.", fn=_cosine_variant(warmup="early")),
        Mistake("the cosine goes over T − W steps: t/(T − W) with t = step − W, as PyTorch's "
                "T_max (min_lr is reached at step T, one after the last training step); yours "
                "divides by T − W − 1.", fn=_cosine_variant(t_over="T-1")),
        Mistake("the cosine starts after the warm-up: use t = step − W over T − W steps, not "
                "step over T.", fn=_cosine_variant(shift=False)),
        Mistake("the cosine decays from base_lr to min_lr: min_lr + (base_lr − min_lr)·(1 + "
                "cos(πt/(T − W)))/2 (yours ignores min_lr).", fn=_cosine_variant(floor="ignored")),
        Mistake("the cosine spans base_lr − min_lr, not base_lr: min_lr + (base_lr − "
                "min_lr)·(1 + cos)/2 (yours starts at base_lr + min_lr).",
                fn=_cosine_variant(floor="added")),
        Mistake("(1 + cos(πt/T'))/2 goes from 1 down to 0; (1 − cos)/2 rises.",
                fn=_cosine_variant(rising=True)),
        Mistake("after total_steps the learning rate stays at min_lr (the cosine would climb "
                "back up).", fn=_cosine_variant(clamp=False)),
    ],
    hints=(
        "Three regimes by step: a linear rise during the warm-up, half a cosine down to the "
        "minimum, and the minimum after the end.",
        "During the warm-up (step < W) the rate is base_lr times (step + 1)/(W + 1); then, with "
        "t counted from the end of the warm-up, the rate goes from base_lr to min_lr along "
        "(1 + cos(πt/(T − W)))/2; from step T on it is min_lr.",
        "W, T = warmup_steps, total_steps; if step < W: return base_lr * (step + 1) / (W + 1); "
        "if step >= T: return min_lr; "
        "t = step − W; return min_lr + (base_lr − min_lr) * (1 + math.cos(math.pi * t / "
        "(T − W))) / 2",
    ),
)

EXERCISES = [sgd_weight_decay_step, rmsprop_step, adamw_step, cosine_warmup_lr]
