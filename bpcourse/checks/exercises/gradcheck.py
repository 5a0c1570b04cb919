"""Checks for numerical_gradient: centred differences on smooth test functions whose
gradients are known exactly, including functions that couple every entry of x."""

import numpy as np

from ..build import call, ok
from ..core import Case, Exercise, Mistake


def _exact_gradient(name, params, x):
    v = x.reshape(-1)
    if name == "quadratic":
        return 2 * params["a"] * x + params["b"]
    if name == "bilinear":
        A = params["A"]
        return ((A + A.T) @ v).reshape(x.shape)
    if name == "logsumexp":
        B = params["B"]
        s = B @ v
        p = np.exp(s - s.max())
        return (B.T @ (p / p.sum())).reshape(x.shape)
    if name == "sin_product":
        c = params["c"]
        # f = Σ sin(c·x)·roll(x, 1); ∂f/∂x = c·cos(c·x)·roll(x, 1) + roll(sin(c·x), −1)
        return c * np.cos(c * x) * np.roll(x, 1) + np.roll(np.sin(c * x), -1)
    raise KeyError(name)


def cases(rng, given):
    out = []
    specs = [
        ("quadratic", (6,), "a separable quadratic of a vector x (6,)"),
        ("bilinear", (3, 4), "xᵀAx of a matrix x (3, 4): every entry couples with every other"),
        ("logsumexp", (2, 5), "log-sum-exp of Bx, x (2, 5): not separable"),
        ("sin_product", (7,), "Σ sin(c·x)·roll(x, 1): not separable"),
    ]
    for name, shape, label in specs:
        n = int(np.prod(shape))
        params = {
            "quadratic": lambda: {"a": rng.uniform(0.5, 2, shape), "b": rng.normal(size=shape)},
            "bilinear": lambda: {"A": rng.normal(size=(n, n))},
            "logsumexp": lambda: {"B": rng.normal(size=(4, n))},
            "sin_product": lambda: {"c": rng.uniform(1, 3, shape)},
        }[name]()
        x = rng.normal(size=shape)
        f = {"function": name, "params": params, "shape": list(shape)}
        out.append(Case(label, [call("numerical_gradient", f, x)],
                        expected=[ok(_exact_gradient(name, params, x), tuple_=False)]))
    return out


def _forward_difference(f, x, h=1e-5):
    x = x.copy()
    grad = np.zeros_like(x)
    fx = f(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        grad[i] = (f(x) - fx) / h
        x[i] = old
    return grad


def _over_h(f, x, h=1e-5):
    x = x.copy()
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        fp = f(x)
        x[i] = old - h
        fm = f(x)
        x[i] = old
        grad[i] = (fp - fm) / h
    return grad


def _no_restore(f, x, h=1e-5):
    x = x.copy()
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        x[i] += h
        fp = f(x)
        x[i] -= 2 * h
        fm = f(x)
        grad[i] = (fp - fm) / (2 * h)
    return grad


def _first_axis_only(f, x, h=1e-5):
    x = x.copy()
    grad = np.zeros_like(x)
    for i in range(len(x)):
        old = x[i].copy()
        x[i] = old + h
        fp = f(x)
        x[i] = old - h
        fm = f(x)
        x[i] = old
        grad[i] = (fp - fm) / (2 * h)
    return grad


numerical_gradient = Exercise(
    name="numerical_gradient", notebook="03_gradient_checking",
    signature="numerical_gradient(f, x, h=1e-5) -> grad", arg_names=("f", "x", "h"),
    outputs=("grad",), make_cases=cases, tol64=1e-7,
    mistakes=[
        Mistake("a forward difference (f(x+h) − f(x))/h has an error of order h; the centred "
                "difference (f(x+h) − f(x−h))/(2h) is exact to order h².", fn=_forward_difference),
        Mistake("the centred difference divides by 2h: (f(x+h) − f(x−h)) / (2h).", fn=_over_h),
        Mistake("restore x[i] to its saved value after the two evaluations, or the later "
                "entries are measured at a shifted point.", fn=_no_restore),
        Mistake("perturb every entry of x, one at a time (np.ndindex(x.shape) or a flat "
                "view), not whole rows: x[i] on a matrix is a row.", fn=_first_axis_only),
    ],
    hints=(
        'Perturb one entry at a time, in both directions, and put x back exactly as it was.',
        "On a copy of x, for every index: save the entry, evaluate f with the entry + h and "
        "with the entry − h, restore the saved value (not entry + h − h), and take the "
        "centred difference.",
        "for i in np.ndindex(x.shape): old = xp[i]; xp[i] = old + h; f1 = f(xp); xp[i] = old "
        "− h; f2 = f(xp); xp[i] = old; grad[i] = (f1 − f2) / (2h)",
    ),
)

EXERCISES = [numerical_gradient]
