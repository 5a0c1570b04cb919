"""A whole network as functions: the reference for the exercises of notebooks 5 and 10.

Built only from the layer functions (``bpcourse.layers``), the loss (``bpcourse.losses``) and
the Adam step (``bpcourse.optim``), as a learner builds it from their own.

An MLP of K dense layers keeps its parameters in a dict, as PyTorch's ``state_dict`` does:

- ``"W1", "b1", ..., "WK", "bK"``: the dense layers, W{l} (D_{l-1}, D_l), b{l} (D_l,);
- with batch norm, for every hidden layer l < K: ``"gamma{l}", "beta{l}"`` (trained) and
  ``"running_mean{l}", "running_var{l}"`` (buffers: updated by ``train_step``, never trained).

``config`` is a dict: ``"batchnorm"`` (bool), ``"dropout"`` (p, the probability of dropping;
0 for none) and, for training, ``"lr"`` (Adam's learning rate).  Hidden layer l is
Dense → [BatchNorm] → ReLU → [Dropout(p)]; the last layer is Dense (the logits).

``caches`` is the list of the layers' caches in forward order, each a pair ``(kind, cache)``
with kind ``"dense"``, ``"batchnorm"``, ``"relu"`` or ``"dropout"`` and cache exactly what that
layer's forward returned.
"""

import re

import numpy as np

from . import _validate as check
from .layers import (batchnorm_backward, batchnorm_forward, dense_backward, dense_forward,
                     dropout_backward, dropout_forward, relu_backward, relu_forward)
from .losses import softmax_cross_entropy
from .optim import adam_step

BN_MOMENTUM = 0.1   # PyTorch's: the weight of the new batch in the running statistics
BN_EPS = 1e-5
_WEIGHT = re.compile(r"W(\d+)$")


# ---------------------------------------------------------------- the whole network

def mlp_forward(X, params, config, rng=None, train=True):
    """Logits of the MLP and the caches for the backward pass.

    X (N, D0)  ->  (logits (N, C), caches).  ``train=True``: batch norm uses the batch's
    statistics and dropout drops with ``rng`` (a numpy Generator), one ``dropout_forward``
    per hidden layer in order.  ``train=False`` (eval mode): batch norm uses
    running_mean{l} and running_var{l}, dropout is the identity, and caches is None.
    """
    K = n_layers(params)
    _check_config(config, params, K)
    caches = []
    A = X
    for l in range(1, K + 1):
        Z, cache = dense_forward(A, params[f"W{l}"], params[f"b{l}"])
        caches.append(("dense", cache))
        if l == K:
            break
        if config["batchnorm"]:
            gamma, beta = params[f"gamma{l}"], params[f"beta{l}"]
            if train:
                Z, cache = batchnorm_forward(Z, gamma, beta)
                caches.append(("batchnorm", cache))
            else:
                mean, var = params[f"running_mean{l}"], params[f"running_var{l}"]
                Z = gamma * (Z - mean) / np.sqrt(var + BN_EPS) + beta
        A, cache = relu_forward(Z)
        caches.append(("relu", cache))
        if train and config["dropout"] > 0:
            A, cache = dropout_forward(A, config["dropout"], rng)
            caches.append(("dropout", cache))
    return Z, (caches if train else None)


def mlp_backward(dlogits, caches):
    """Gradients of every trained parameter, from dL/dlogits back through the caches.

    dlogits (N, C), caches as ``mlp_forward`` returns them  ->  grads, a dict with the
    keys of the trained parameters ("W{l}", "b{l}", "gamma{l}", "beta{l}"), each shaped
    like its parameter.
    """
    _check_caches(caches)
    grads = {}
    l = sum(kind == "dense" for kind, _ in caches)   # walking back: the last layer first
    d = dlogits
    for kind, cache in reversed(caches):
        if kind == "dense":
            d, grads[f"W{l}"], grads[f"b{l}"] = dense_backward(d, cache)
            l -= 1                                    # the layers below belong to layer l - 1
        elif kind == "batchnorm":
            d, grads[f"gamma{l}"], grads[f"beta{l}"] = batchnorm_backward(d, cache)
        elif kind == "relu":
            d = relu_backward(d, cache)
        else:
            d = dropout_backward(d, cache)
    return grads


def train_step(params, state, X, y, config, rng=None):
    """One step of mini-batch Adam on the batch (X, y); the inputs are not modified.

    state = {"t": steps taken so far, "m": {key: array}, "v": {key: array}} (Adam's moments
    of every trained parameter; ``init_adam_state`` makes the first).  Forward in training
    mode, softmax cross-entropy, backward, ``adam_step`` with t = state["t"] + 1 and
    lr = config["lr"] for every trained parameter, then the running statistics of every
    batch norm: running ← (1 − 0.1)·running + 0.1·batch, with the unbiased batch variance.
    Returns (new params, new state, the batch's loss as a float).
    """
    if config.get("batchnorm") and len(X) < 2:
        raise ValueError(f"a training step with batch norm needs at least 2 examples in the "
                         f"batch (a variance of one example is 0), got X of shape {X.shape}")
    logits, caches = mlp_forward(X, params, config, rng, train=True)
    loss, dlogits = softmax_cross_entropy(logits, y)
    grads = mlp_backward(dlogits, caches)
    t = state["t"] + 1
    new_params, m, v = dict(params), dict(state["m"]), dict(state["v"])
    for key, grad in grads.items():
        new_params[key], m[key], v[key] = adam_step(params[key], grad, state["m"][key],
                                                    state["v"][key], t, lr=config["lr"])
    batchnorms = [cache for kind, cache in caches if kind == "batchnorm"]
    for l, (_, _, mu, var, _, _) in enumerate(batchnorms, start=1):
        N = len(X)
        new_params[f"running_mean{l}"] = (1 - BN_MOMENTUM) * params[f"running_mean{l}"] \
            + BN_MOMENTUM * mu
        new_params[f"running_var{l}"] = (1 - BN_MOMENTUM) * params[f"running_var{l}"] \
            + BN_MOMENTUM * var * (N / (N - 1))
    return new_params, {"t": t, "m": m, "v": v}, loss


def train_epoch(params, state, X, y, config, rng, batch_size=64):
    """One epoch: every example once, in the order ``rng.permutation(N)``, in consecutive
    batches of ``batch_size`` (the last one may be smaller), one ``train_step`` each.

    Returns (params, state, the epoch's mean loss over its N examples: each batch's loss
    weighted by its size).
    """
    N = len(X)
    order = rng.permutation(N)
    total = 0.0
    for start in range(0, N, batch_size):
        idx = order[start:start + batch_size]
        params, state, loss = train_step(params, state, X[idx], y[idx], config, rng)
        total += loss * len(idx)
    return params, state, total / N


# ---------------------------------------------------------------- a two-layer network (notebook 5)

def two_layer_loss_and_grads(params, X, y):
    """Loss and gradients of Dense → ReLU → Dense → softmax cross-entropy.

    params = [W1, b1, W2, b2]; X (N, D), y integer labels (N,)  ->
    (loss, [dW1, db1, dW2, db2]), each gradient shaped like its parameter.
    """
    W1, b1, W2, b2 = params
    Z1, cache1 = dense_forward(X, W1, b1)
    A1, cache_relu = relu_forward(Z1)
    Z2, cache2 = dense_forward(A1, W2, b2)
    loss, dZ2 = softmax_cross_entropy(Z2, y)
    dA1, dW2, db2 = dense_backward(dZ2, cache2)
    dZ1 = relu_backward(dA1, cache_relu)
    _, dW1, db1 = dense_backward(dZ1, cache1)
    return loss, [dW1, db1, dW2, db2]


# ---------------------------------------------------------------- making and using one

def init_mlp(sizes, config, rng, dtype=np.float32, last_scale=0.1):
    """Parameters for layer sizes [D0, D1, ..., C] (e.g. [64, 128, 10]).

    W{l} ~ He: N(0, 2 / D_{l-1}), b{l} = 0; the last layer's W is scaled by ``last_scale``
    so that the untrained logits are small and the first loss is close to log C (a uniform
    guess) instead of a confident, random one.  With batch norm: gamma = 1, beta = 0,
    running_mean = 0, running_var = 1 (PyTorch's).  ``rng``: a seed or a numpy Generator.
    """
    rng = np.random.default_rng(rng)
    if len(sizes) < 2 or not all(isinstance(s, (int, np.integer)) and s >= 1 for s in sizes):
        raise ValueError(f"sizes must list at least two positive layer widths "
                         f"[inputs, ..., classes], got {sizes!r}")
    _check_config(config)
    params = {}
    K = len(sizes) - 1
    for l, (D, M) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        scale = np.sqrt(2.0 / D) * (last_scale if l == K else 1.0)
        params[f"W{l}"] = rng.normal(0.0, scale, size=(D, M)).astype(dtype)
        params[f"b{l}"] = np.zeros(M, dtype=dtype)
        if config["batchnorm"] and l < K:
            params[f"gamma{l}"] = np.ones(M, dtype=dtype)
            params[f"beta{l}"] = np.zeros(M, dtype=dtype)
            params[f"running_mean{l}"] = np.zeros(M, dtype=dtype)
            params[f"running_var{l}"] = np.ones(M, dtype=dtype)
    return params


def trained_keys(params):
    """The keys of the parameters that training changes by gradient (not the buffers)."""
    return [k for k in params if not k.startswith("running_")]


def init_adam_state(params):
    """Adam's state before the first step: t = 0 and zero moments per trained parameter."""
    keys = trained_keys(params)
    return {"t": 0, "m": {k: np.zeros_like(params[k]) for k in keys},
            "v": {k: np.zeros_like(params[k]) for k in keys}}


def evaluate_mlp(params, X, y, config):
    """(mean loss, accuracy) of the MLP on (X, y), in eval mode."""
    logits, _ = mlp_forward(X, params, config, train=False)
    loss, _ = softmax_cross_entropy(logits, y)
    return loss, float(np.mean(logits.argmax(axis=1) == y))


def n_layers(params):
    """The number K of dense layers of an MLP's parameter dict (keys W1 ... WK)."""
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict such as {{'W1': ..., 'b1': ..., 'W2': ...}}, "
                        f"got {type(params).__name__}")
    found = sorted(int(m.group(1)) for k in params if (m := _WEIGHT.match(str(k))))
    if not found or found != list(range(1, len(found) + 1)):
        raise ValueError(f"params must hold W1, b1, ..., WK, bK for K ≥ 1 layers; it holds "
                         f"{sorted(map(str, params))}")
    missing = [f"b{l}" for l in found if f"b{l}" not in params]
    if missing:
        raise ValueError(f"params is missing the biases {', '.join(missing)}")
    return len(found)


def _check_config(config, params=None, K=None):
    if not isinstance(config, dict) or not {"batchnorm", "dropout"} <= set(config):
        raise TypeError(f"config must be a dict with 'batchnorm' (True or False) and 'dropout' "
                        f"(the probability of dropping, 0 for none), got {config!r}")
    check.probability(config["dropout"], "config['dropout']")
    if config["dropout"] >= 1:
        raise ValueError("config['dropout'] must be below 1 (a network that drops every unit "
                         "learns nothing)")
    if params is not None and config["batchnorm"]:
        missing = [f"{name}{l}" for l in range(1, K) for name in
                   ("gamma", "beta", "running_mean", "running_var") if f"{name}{l}" not in params]
        if missing:
            raise ValueError(f"config['batchnorm'] is True but params is missing "
                             f"{', '.join(missing[:6])}{' ...' if len(missing) > 6 else ''} "
                             f"(init_mlp(sizes, config, rng) makes them)")


_KINDS = ("dense", "batchnorm", "relu", "dropout")


def _check_caches(caches):
    if not isinstance(caches, list) or not all(
            isinstance(c, tuple) and len(c) == 2 and c[0] in _KINDS for c in caches):
        raise TypeError("caches must be the list of (kind, cache) pairs that mlp_forward returns "
                        "in training mode, kind one of 'dense', 'batchnorm', 'relu', 'dropout'")
