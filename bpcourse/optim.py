"""Optimizers: the update rules as pure step functions, and PyTorch-style classes on top.

Step functions return new arrays and never modify their inputs:

- ``sgd_step``:           w ← w − lr · dw
- ``sgd_momentum_step``:  u ← ρ u + dw;  w ← w − lr · u          (PyTorch's convention; u the velocity)
- ``adam_step``:          m ← β₁ m + (1 − β₁) dw;  v ← β₂ v + (1 − β₂) dw²;
                          m̂ = m / (1 − β₁ᵗ);  v̂ = v / (1 − β₂ᵗ);  w ← w − lr · m̂ / (√v̂ + ε)

``SGD`` and ``Adam`` hold the state (velocities, moments, step count) for a list of
``bpcourse.nn.Parameter`` objects and apply these rules in ``step()``.
"""

import numbers

import numpy as np

from . import _fast
from . import _validate as check


def sgd_step(w, dw, lr):
    """Plain gradient descent: returns w − lr · dw."""
    _check_state(("w", w), ("dw", dw))
    lr = check.positive(lr, "lr")
    return w - lr * dw


def sgd_momentum_step(w, dw, velocity, lr, momentum=0.9):
    """SGD with momentum, PyTorch's form: u ← ρ u + dw, w ← w − lr · u (u: the velocity).

    Returns ``(w_new, velocity_new)``; start with ``velocity = np.zeros_like(w)``.
    """
    _check_state(("w", w), ("dw", dw), ("velocity", velocity))
    lr = check.positive(lr, "lr")
    momentum = _fraction(momentum, "momentum")
    velocity_new = momentum * velocity + dw
    return w - lr * velocity_new, velocity_new


def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam step (Kingma & Ba, 2015; PyTorch's Adam): bias-corrected, ε after the root.

    ``t`` is the 1-based number of this step; start with ``m = v = np.zeros_like(w)``.
    Returns ``(w_new, m_new, v_new)``.
    """
    _check_state(("w", w), ("dw", dw), ("m", m), ("v", v))
    if isinstance(t, bool) or not isinstance(t, numbers.Integral) or t < 1:
        raise ValueError(f"t is the 1-based step number (1 for the first step), got {t!r}")
    lr = check.positive(lr, "lr")
    beta1 = _fraction(beta1, "beta1")
    beta2 = _fraction(beta2, "beta2")
    eps = check.positive(eps, "eps")
    m_new = beta1 * m + (1 - beta1) * dw
    v_new = beta2 * v + (1 - beta2) * dw * dw
    m_hat = m_new / (1 - beta1**t)
    v_hat = v_new / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m_new, v_new



def _fraction(x, name):
    """A hyper-parameter in [0, 1) such as a momentum or a β."""
    x = check.probability(x, name)
    if x == 1.0:
        raise ValueError(f"{name} must be in [0, 1), got 1.0")
    return x


def _check_state(*named):
    for name, a in named:
        check.float_array(a, name)
    (first_name, first), *rest = named
    for name, a in rest:
        check.same_shape(a, first, name, first_name)
    check.same_dtype(list(named))


# ---------------------------------------------------------------- classes over parameters

class Optimizer:
    """Base class: holds a list of parameters (objects with ``.data`` and ``.grad``).

    ``step()`` computes what calling the step functions above on every parameter computes
    (``_step_with_functions`` is that loop, and runs when a parameter is unusual), to the last
    bits of rounding; it does so in place, in reused buffers, piece by piece
    (``bpcourse._fast``), which is several times faster on large parameters.
    """

    def __init__(self, params):
        self.params = list(params)
        if not self.params:
            raise ValueError("the optimizer got an empty parameter list; pass model.parameters()")
        self._pieces = _fast.PieceWise()

    def zero_grad(self):
        """Set every parameter's gradient to zero (gradients accumulate, as in PyTorch)."""
        for p in self.params:
            if hasattr(p, "zero_grad"):
                p.zero_grad()   # a bpcourse.nn.Parameter zeroes lazily, see its docstring
            else:
                p.grad[...] = 0

    def step(self):
        raise NotImplementedError

    def _in_place_groups(self, *states):
        """``(p.data, p.grad, *state)`` for every parameter, for the in-place update; None when
        an array is not contiguous or differs from p.data in shape or dtype (then the step
        functions run instead, and report what is wrong)."""
        groups = [(p.data, p.grad, *(state[i] for state in states))
                  for i, p in enumerate(self.params)]
        return groups if all(_fits_in_place(group) for group in groups) else None


def _fits_in_place(group):
    w = group[0]
    return all(isinstance(a, np.ndarray) and a.flags.c_contiguous and a.shape == w.shape
               and a.dtype == w.dtype for a in group) and w.dtype in (np.float32, np.float64)


_GRADIENT = (1,)  # the position of p.grad in a group: only read, never written back


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum (PyTorch's convention)."""

    def __init__(self, params, lr, momentum=0.0):
        super().__init__(params)
        self.lr = check.positive(lr, "lr")
        self.momentum = _fraction(momentum, "momentum")
        self.velocities = [np.zeros_like(p.data) for p in self.params]

    def step(self):
        if self.momentum:
            groups = self._in_place_groups(self.velocities)
            update, args = _fast.sgd_momentum_update, (self.lr, self.momentum)
        else:
            groups = self._in_place_groups()
            update, args = _fast.sgd_update, (self.lr,)
        if groups is None:
            self._step_with_functions()
        else:
            self._pieces.run(update, groups, *args, read_only=_GRADIENT)

    def _step_with_functions(self):
        for i, p in enumerate(self.params):
            if self.momentum:
                p.data[...], self.velocities[i] = sgd_momentum_step(
                    p.data, p.grad, self.velocities[i], self.lr, self.momentum
                )
            else:
                p.data[...] = sgd_step(p.data, p.grad, self.lr)


class Adam(Optimizer):
    """Adam with PyTorch's defaults: lr=1e-3, betas=(0.9, 0.999), eps=1e-8."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params)
        self.lr = check.positive(lr, "lr")
        self.betas = (_fraction(betas[0], "betas[0]"), _fraction(betas[1], "betas[1]"))
        self.eps = check.positive(eps, "eps")
        self.t = 0
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]

    def step(self):
        self.t += 1
        groups = self._in_place_groups(self.m, self.v)
        if groups is None:
            self._step_with_functions()
        else:
            self._pieces.run(_fast.adam_update, groups, self.t, self.lr, *self.betas, self.eps,
                             read_only=_GRADIENT)

    def _step_with_functions(self):
        for i, p in enumerate(self.params):
            p.data[...], self.m[i], self.v[i] = adam_step(
                p.data, p.grad, self.m[i], self.v[i], self.t,
                self.lr, self.betas[0], self.betas[1], self.eps,
            )
