"""Checks for the dense layer: dense_forward and dense_backward."""

import numpy as np

from ... import layers
from ..build import backward_calls, cache, call, normal, numerical_grads, ok, sizes
from ..core import Case, Exercise, Mistake

MATMUL_ERROR = r"matmul|not aligned|mismatch in its core dimension"


def forward_cases(rng, given):
    cases = []
    for dtype, label in ((np.float64, "float64"), (np.float32, "float32")):
        N, D, M = sizes(rng, 3)
        X, W, b = normal(rng, (N, D), dtype), normal(rng, (D, M), dtype), normal(rng, M, dtype)
        cases.append(Case(f"random {label} inputs, X {X.shape}, W {W.shape}",
                          [call("dense_forward", X, W, b)], {"N": N}))
    D, M = sizes(rng, 2)
    X, W, b = normal(rng, (1, D)), normal(rng, (D, M)), normal(rng, M)
    cases.append(Case("a batch of one example, X (1, D)", [call("dense_forward", X, W, b)], {"N": 1}))
    return cases


dense_forward = Exercise(
    name="dense_forward",
    notebook="01_forward_pass",
    signature="dense_forward(X, W, b) -> (Z, cache)",
    arg_names=("X", "W", "b"),
    outputs=("Z", "cache"), cache=("X", "W", "b"),
    make_cases=forward_cases,
    mistakes=[
        Mistake("the bias is missing: Z = X W + b, with b (M,) broadcast over the N rows.",
                fn=lambda X, W, b: (X @ W, (X, W, b))),
        Mistake("a matrix product with mismatched shapes: Z = X W needs X (N, D) and W (D, M) "
                "in this order (X @ W, not W @ X), with no transpose.", error=MATMUL_ERROR),
    ],
    hints=(
        'One matrix product and one broadcast: the cache is what the backward pass will need.',
        "X is (N, D) and W is (D, M): their product is (N, M), one row per example; b (M,) is"
        " added to every row by broadcasting.",
        'Z = X @ W + b; return Z, (X, W, b)',
    ),
)


def backward_cases(rng, given):
    cases = []
    for dtype, label in ((np.float64, "float64"), (np.float32, "float32")):
        N, D, M = sizes(rng, 3)
        X, W, b = normal(rng, (N, D), dtype), normal(rng, (D, M), dtype), normal(rng, M, dtype)
        dZ = normal(rng, (N, M), dtype)
        cases.append(Case(
            f"random {label} inputs, X {X.shape}, W {W.shape}",
            backward_calls("dense_backward", "dense_forward", (X, W, b), cache(X, W, b), dZ, given),
            {"N": N}))
    N, D, M = sizes(rng, 3, 2, 6)
    X, W, b, dZ = normal(rng, (N, D)), normal(rng, (D, M)), normal(rng, M), normal(rng, (N, M))
    grads = numerical_grads(lambda X, W, b: float(np.sum(layers.dense_forward(X, W, b)[0] * dZ)),
                            [X, W, b])
    cases.append(Case(
        "gradient check: your gradients against centred numerical gradients (float64)",
        backward_calls("dense_backward", "dense_forward", (X, W, b), cache(X, W, b), dZ, given),
        {"N": N}, expected=[ok(*grads)]))
    return cases


dense_backward = Exercise(
    name="dense_backward",
    notebook="05_dense_backward",
    signature="dense_backward(dZ, cache) -> (dX, dW, db)",
    arg_names=("dZ", "cache"),
    outputs=("dX", "dW", "db"),
    make_cases=backward_cases,
    needs=("dense_forward",),
    mistakes=[
        Mistake("missing transpose: dW must have W's shape (D, M), so dW = Xᵀ dZ "
                "(you computed its transpose, dZᵀ X).",
                fn=lambda dZ, c: (dZ @ c[1].T, dZ.T @ c[0], dZ.sum(axis=0))),
        Mistake("a shape mismatch in a matrix product, most likely a missing transpose: "
                "dX (N, D) = dZ (N, M) · Wᵀ (M, D) and dW (D, M) = Xᵀ (D, N) · dZ (N, M).",
                error=MATMUL_ERROR),
        Mistake("missing transpose: dX must have X's shape (N, D), so dX = dZ Wᵀ "
                "(you computed its transpose, W dZᵀ).",
                fn=lambda dZ, c: (c[1] @ dZ.T, c[0].T @ dZ, dZ.sum(axis=0))),
        Mistake("db must have b's shape (M,): sum over the batch without keepdims.",
                fn=lambda dZ, c: (dZ @ c[1].T, c[0].T @ dZ, dZ.sum(axis=0, keepdims=True))),
        Mistake("the bias gradient is not summed over the batch: b is added to every row, "
                "so db = Σₙ dZ[n] = dZ.sum(axis=0), shape (M,).",
                fn=lambda dZ, c: (dZ @ c[1].T, c[0].T @ dZ, dZ)),
        Mistake("the bias gradient is summed over the wrong axis: sum over the batch, "
                "dZ.sum(axis=0), to get shape (M,).",
                fn=lambda dZ, c: (dZ @ c[1].T, c[0].T @ dZ, dZ.sum(axis=1))),
        Mistake("averaging inside the layer: the 1/N of the mean belongs to the loss only "
                "(its dZ already carries it), so db = Σₙ dZ, not the mean.",
                fn=lambda dZ, c: (dZ @ c[1].T, c[0].T @ dZ, dZ.mean(axis=0))),
        Mistake("averaging inside the layer: the 1/N of the mean belongs to the loss only "
                "(its dZ already carries it); dW = Xᵀ dZ and db = Σₙ dZ, with no division by N.",
                fn=lambda dZ, c: (dZ @ c[1].T, c[0].T @ dZ / len(dZ), dZ.sum(axis=0) / len(dZ))),
        Mistake("averaging inside the layer: the 1/N of the mean belongs to the loss only "
                "(its dZ already carries it); dW = Xᵀ dZ with no division by N.",
                fn=lambda dZ, c: (dZ @ c[1].T, c[0].T @ dZ / len(dZ), dZ.sum(axis=0))),
        Mistake("averaging inside the layer: dividing the gradients by N again divides by N "
                "twice (the loss's dZ already holds the 1/N).",
                fn=lambda dZ, c: (dZ @ c[1].T / len(dZ), c[0].T @ dZ / len(dZ), dZ.sum(axis=0) / len(dZ))),
    ],
    hints=(
        "Let the shapes choose the products: each gradient has the shape of what it is the "
        "gradient of.",
        "dW must be (D, M): the only product of X (N, D) and dZ (N, M) with that shape "
        "contracts over the batch. dX must be (N, D): dZ times the transpose of W. b was "
        "broadcast over the rows, so its gradient sums over them. No 1/N: dZ already has it.",
        'dX = dZ @ W.T; dW = X.T @ dZ; db = dZ.sum(axis=0); return dX, dW, db',
    ),
)

EXERCISES = [dense_forward, dense_backward]
