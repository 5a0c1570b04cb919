"""Watching a network train: how big a step is, relative to the weights (notebook 11).

The update-to-data ratio of a weight matrix is the size of a gradient-descent step relative to
the size of the weights it changes, lr · ‖dW‖ / ‖W‖ with Frobenius norms (CS231n's "ratio of
weights:updates", about 1e-3 when the learning rate is about right).  Andrej Karpathy plots
the same idea with standard deviations, std(lr · dW) / std(W), on a log scale; for weights and
gradients of mean about 0 the two agree closely.
"""

import re

import numpy as np

_WEIGHT = re.compile(r"W\d+$")


def update_ratios(params, grads, lr):
    """lr · ‖dW_l‖ / ‖W_l‖ for every weight matrix of a network.

    params, grads: dicts as ``network.init_mlp`` and ``mlp_backward`` make them (grads holds
    a "W{l}" for every "W{l}" of params); lr > 0.  -> {"W1": float, ..., "WK": float}: one
    ratio per weight matrix (biases, batch norm's parameters and buffers are left out).
    """
    if not isinstance(params, dict) or not isinstance(grads, dict):
        raise TypeError(f"params and grads must be dicts of arrays (keys 'W1', 'b1', ...), got "
                        f"{type(params).__name__} and {type(grads).__name__}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.integer, np.floating)) \
            or not lr > 0:
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    keys = sorted((k for k in params if _WEIGHT.match(str(k))), key=lambda k: int(k[1:]))
    if not keys:
        raise ValueError(f"params holds no weight matrix 'W1', 'W2', ...: it holds "
                         f"{sorted(map(str, params))}")
    missing = [k for k in keys if k not in grads]
    if missing:
        raise ValueError(f"grads has no gradient for {', '.join(missing)}")
    ratios = {}
    for key in keys:
        W = np.asarray(params[key], dtype=np.float64)
        dW = np.asarray(grads[key], dtype=np.float64)
        if dW.shape != W.shape:
            raise ValueError(f"grads[{key!r}] must have the shape of params[{key!r}] {W.shape}, "
                             f"got {dW.shape}")
        norm = np.linalg.norm(W)
        if norm == 0:
            raise ValueError(f"params[{key!r}] is all zeros: the ratio lr·‖dW‖/‖W‖ is undefined "
                             f"(a zero-initialized weight matrix; see notebook 11)")
        ratios[key] = float(lr * np.linalg.norm(dW) / norm)
    return ratios
