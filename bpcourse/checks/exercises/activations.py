"""Checks for ReLU, sigmoid and tanh, forward and backward."""

import numpy as np

from ... import layers
from ..build import call, normal, numerical_grads, ok, sizes
from ..core import Case, Exercise, Mistake

OVERFLOW = r"overflow"


def _with_zeros(rng, shape, dtype):
    Z = normal(rng, shape, dtype)
    Z.flat[:: 3] = 0  # exact zeros: where ReLU's derivative needs a convention
    return Z


def _forward_cases(name, large):
    def make(rng, given):
        cases = []
        for dtype, label in ((np.float64, "float64"), (np.float32, "float32")):
            N, M = sizes(rng, 2)
            cases.append(Case(f"random {label} input of shape ({N}, {M})",
                              [call(name, _with_zeros(rng, (N, M), dtype))]))
        Z = np.array([[-large, -50.0, 0.0, 50.0, large]] * 2)
        Z[1] *= -1
        cases.append(Case(f"large inputs (|Z| up to {large:g}): no overflow, no NaN", [call(name, Z)]))
        cases.append(Case("large float32 inputs (|Z| up to 100)",
                          [call(name, np.array([[-100.0, -90.0, 0.0, 90.0, 100.0]], np.float32))]))
        return cases
    return make


def _backward_cases(backward, forward, kink_free=False):
    def make(rng, given):
        cases = []
        for dtype, label in ((np.float64, "float64"), (np.float32, "float32")):
            N, M = sizes(rng, 2)
            Z = _with_zeros(rng, (N, M), dtype)
            dA = normal(rng, (N, M), dtype)
            _, c = getattr(layers, forward)(Z)
            calls = [call(backward, dA, c)]
            if forward in given:
                calls.append(call(backward, dA, {"cache_of": call(forward, Z)}))
            label_z = " (with exact zeros)" if backward == "relu_backward" else ""
            cases.append(Case(f"random {label} input{label_z}, shape ({N}, {M})", calls))
        N, M = sizes(rng, 2, 2, 6)
        Z = normal(rng, (N, M))
        if kink_free:  # keep every entry away from 0, where ReLU has a kink
            Z += np.sign(Z) * 0.1
        dA = normal(rng, (N, M))
        _, c = getattr(layers, forward)(Z)
        (grad,) = numerical_grads(
            lambda Z: float(np.sum(getattr(layers, forward)(Z)[0] * dA)), [Z])
        calls = [call(backward, dA, c)]
        if forward in given:
            calls.append(call(backward, dA, {"cache_of": call(forward, Z)}))
        cases.append(Case("gradient check: your dZ against a centred numerical gradient (float64)",
                          calls, expected=[ok(grad, tuple_=False)]))
        return cases
    return make


relu_forward = Exercise(
    name="relu_forward", notebook="01_forward_pass",
    signature="relu_forward(Z) -> (A, cache)", arg_names=("Z",), outputs=("A", "cache"),
    cache="Z",
    make_cases=_forward_cases("relu_forward", 1e3),
    mistakes=[
        Mistake("np.max(Z, 0) takes the maximum along axis 0 (one number per column); "
                "the elementwise max(Z, 0) is np.maximum(Z, 0).",
                fn=lambda Z: (np.max(Z, 0), Z)),
    ],
    hints=(
        "An elementwise maximum with 0; the backward pass needs to know where the input was "
        "positive.",
        "np.maximum(Z, 0) compares each entry with 0 (np.max would reduce along an axis "
        "instead); keep Z itself as the cache.",
        'A = np.maximum(Z, 0); return A, Z',
    ),
)

relu_backward = Exercise(
    name="relu_backward", notebook="06_activations_backward",
    signature="relu_backward(dA, cache) -> dZ", arg_names=("dA", "cache"), outputs=("dZ",),
    make_cases=_backward_cases("relu_backward", "relu_forward", kink_free=True),
    needs=("relu_forward",),
    mistakes=[
        Mistake("ReLU's derivative at exactly 0: the course (like PyTorch) takes it as 0, "
                "so the mask is Z > 0, not Z >= 0.",
                fn=lambda dA, Z: dA * (Z >= 0)),
        Mistake("the chain rule multiplies: dZ = dA · 1[Z > 0]; you returned the mask alone.",
                fn=lambda dA, Z: (Z > 0).astype(dA.dtype)),
        Mistake("the mask comes from the forward input Z (the cache), not from dA: dZ = dA · 1[Z > 0].",
                fn=lambda dA, Z: dA * (dA > 0)),
    ],
    hints=(
        'The gradient passes where the unit was active and stops where it was not.',
        "The cache is Z: multiply dA by the indicator of Z > 0 (strictly: at Z == 0 the "
        "course takes the derivative 0, as PyTorch does).",
        'return dA * (Z > 0)',
    ),
)

sigmoid_forward = Exercise(
    name="sigmoid_forward", notebook="01_forward_pass",
    signature="sigmoid_forward(Z) -> (A, cache)", arg_names=("Z",), outputs=("A", "cache"),
    cache="A",
    make_cases=_forward_cases("sigmoid_forward", 1e3),
    mistakes=[
        Mistake("e^(−Z) overflows for very negative Z (and e^Z for very positive Z): beyond "
                "709 in float64, 88 in float32. Use the stable form with e^(−|Z|), one branch "
                "for Z ≥ 0 and one for Z < 0.", warning=OVERFLOW),
    ],
    hints=(
        "Never exponentiate a large positive number: build both branches of σ from a quantity"
        " that is at most 1.",
        "E = e^(−|Z|) is in (0, 1]; for Z ≥ 0, σ(Z) = 1/(1 + E); for Z < 0, σ(Z) = E/(1 + E)."
        " Pick per entry with np.where; the cache is the output A.",
        'E = np.exp(-np.abs(Z)); A = np.where(Z >= 0, 1 / (1 + E), E / (1 + E)); return A, A',
    ),
)

sigmoid_backward = Exercise(
    name="sigmoid_backward", notebook="06_activations_backward",
    signature="sigmoid_backward(dA, cache) -> dZ", arg_names=("dA", "cache"), outputs=("dZ",),
    make_cases=_backward_cases("sigmoid_backward", "sigmoid_forward"),
    needs=("sigmoid_forward",),
    mistakes=[
        Mistake("the sigmoid's derivative is σ(Z)(1 − σ(Z)) = A(1 − A); the factor (1 − A) is missing.",
                fn=lambda dA, A: dA * A),
        Mistake("the cache already holds A = σ(Z): the derivative is A(1 − A), without applying σ again.",
                fn=lambda dA, A: dA * layers.sigmoid_forward(A)[0] * (1 - layers.sigmoid_forward(A)[0])),
        Mistake("the chain rule multiplies by the upstream gradient: dZ = dA · A(1 − A).",
                fn=lambda dA, A: A * (1 - A)),
        Mistake("1 − A² is tanh's derivative; the sigmoid's is A(1 − A).",
                fn=lambda dA, A: dA * (1 - A * A)),
    ],
    hints=(
        "The cache is the output σ(Z), and σ' is a function of σ.",
        "σ'(Z) = σ(Z)(1 − σ(Z)) = A(1 − A): no exponential needed in the backward pass; "
        "multiply by the upstream gradient.",
        'return dA * A * (1 - A)',
    ),
)

tanh_forward = Exercise(
    name="tanh_forward", notebook="01_forward_pass",
    signature="tanh_forward(Z) -> (A, cache)", arg_names=("Z",), outputs=("A", "cache"),
    cache="A",
    make_cases=_forward_cases("tanh_forward", 1e3),
    mistakes=[
        Mistake("(e^Z − e^−Z)/(e^Z + e^−Z) overflows for large |Z|: use np.tanh(Z).",
                warning=OVERFLOW),
    ],
    hints=(
        'numpy has a stable tanh; the backward pass is cheapest from the output.',
        "np.tanh never overflows; keep the output A as the cache, since tanh'(Z) is a "
        "function of tanh(Z).",
        'A = np.tanh(Z); return A, A',
    ),
)

tanh_backward = Exercise(
    name="tanh_backward", notebook="06_activations_backward",
    signature="tanh_backward(dA, cache) -> dZ", arg_names=("dA", "cache"), outputs=("dZ",),
    make_cases=_backward_cases("tanh_backward", "tanh_forward"),
    needs=("tanh_forward",),
    mistakes=[
        Mistake("tanh's derivative is 1 − tanh²(Z) = 1 − A²: the square is missing.",
                fn=lambda dA, A: dA * (1 - A)),
        Mistake("the cache already holds A = tanh(Z): the derivative is 1 − A², without applying tanh again.",
                fn=lambda dA, A: dA * (1 - np.tanh(A) ** 2)),
        Mistake("the chain rule multiplies by the upstream gradient: dZ = dA · (1 − A²).",
                fn=lambda dA, A: 1 - A * A),
        Mistake("A(1 − A) is the sigmoid's derivative; tanh's is 1 − A².",
                fn=lambda dA, A: dA * A * (1 - A)),
    ],
    hints=(
        "The cache is the output tanh(Z), and tanh' is a function of tanh.",
        "tanh'(Z) = 1 − tanh²(Z) = 1 − A²; multiply by the upstream gradient.",
        'return dA * (1 - A * A)',
    ),
)

EXERCISES = [relu_forward, sigmoid_forward, tanh_forward, relu_backward, sigmoid_backward,
             tanh_backward]
