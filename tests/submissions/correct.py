"""A correct submission written as a student would: numpy only, every exercise function."""

import numpy as np


def dense_forward(X, W, b):
    return X @ W + b, (X, W, b)


def dense_backward(dZ, cache):
    X, W, b = cache
    return dZ @ W.T, X.T @ dZ, dZ.sum(axis=0)


def relu_forward(Z):
    return np.maximum(Z, 0), Z


def relu_backward(dA, cache):
    return dA * (cache > 0)


def sigmoid_forward(Z):
    e = np.exp(-np.abs(Z))
    A = np.where(Z >= 0, 1 / (1 + e), e / (1 + e))
    return A, A


def sigmoid_backward(dA, cache):
    return dA * cache * (1 - cache)


def tanh_forward(Z):
    A = np.tanh(Z)
    return A, A


def tanh_backward(dA, cache):
    return dA * (1 - cache**2)


def softmax(Z):
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def _targets(y, P):
    if y.ndim == 2:
        return y.astype(P.dtype)
    Y = np.zeros_like(P)
    Y[np.arange(len(y)), y] = 1
    return Y


def cross_entropy(P, y):
    Y = _targets(y, P)
    return float(-(Y * np.log(np.maximum(P, np.finfo(P.dtype).tiny))).sum() / len(P))


def softmax_cross_entropy(Z, y):
    Y = _targets(y, Z)
    shifted = Z - Z.max(axis=1, keepdims=True)
    log_P = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = float(-(Y * log_P).sum() / len(Z))
    return loss, (np.exp(log_P) - Y) / len(Z)


def numerical_gradient(f, x, h=1e-5):
    x = x.copy()
    grad = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        fp = f(x)
        x[i] = old - h
        fm = f(x)
        x[i] = old
        grad[i] = (fp - fm) / (2 * h)
    return grad


def batchnorm_forward(X, gamma, beta, eps=1e-5):
    mu = X.mean(axis=0)
    var = X.var(axis=0)
    X_hat = (X - mu) / np.sqrt(var + eps)
    return gamma * X_hat + beta, (X, X_hat, mu, var, gamma, eps)


def batchnorm_backward(dout, cache):
    X, X_hat, mu, var, gamma, eps = cache
    N = len(X)
    dX_hat = dout * gamma
    dX = (N * dX_hat - dX_hat.sum(0) - X_hat * (dX_hat * X_hat).sum(0)) / (N * np.sqrt(var + eps))
    return dX, (dout * X_hat).sum(0), dout.sum(0)


def dropout_forward(X, p, rng):
    keep = rng.random(X.shape) >= p
    mask = keep.astype(X.dtype) / X.dtype.type(1 - p)
    return X * mask, mask


def dropout_backward(dout, cache):
    return dout * cache


def sgd_step(w, dw, lr):
    return w - lr * dw


def sgd_momentum_step(w, dw, velocity, lr, momentum=0.9):
    v = momentum * velocity + dw
    return w - lr * v, v


def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw * dw
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def batchnorm_backward_graph(dout, cache):
    X, X_hat, mu, var, gamma, eps = cache
    N = len(X)
    xc = X - mu
    s = np.sqrt(var + eps)
    dbeta = dout.sum(0)
    dgamma = (dout * X_hat).sum(0)
    dxh = dout * gamma
    dxc = dxh / s
    ds = -(dxh * xc).sum(0) / s**2
    dvar = ds / (2 * s)
    dxc = dxc + dvar * 2 * xc / N
    dmu = -dxc.sum(0)
    return dxc + dmu / N, dgamma, dbeta


def two_layer_loss_and_grads(params, X, y):
    W1, b1, W2, b2 = params
    Z1, c1 = dense_forward(X, W1, b1)
    A1, cr = relu_forward(Z1)
    Z2, c2 = dense_forward(A1, W2, b2)
    loss, dZ2 = softmax_cross_entropy(Z2, y)
    dA1, dW2, db2 = dense_backward(dZ2, c2)
    _, dW1, db1 = dense_backward(relu_backward(dA1, cr), c1)
    return loss, [dW1, db1, dW2, db2]


def mlp_forward(X, params, config, rng=None, train=True):
    L = len([k for k in params if k.startswith("W")])
    A, caches = X, []
    for l in range(1, L + 1):
        Z, c = dense_forward(A, params[f"W{l}"], params[f"b{l}"])
        caches.append(("dense", c))
        if l == L:
            break
        if config["batchnorm"]:
            g, b = params[f"gamma{l}"], params[f"beta{l}"]
            if train:
                Z, c = batchnorm_forward(Z, g, b)
                caches.append(("batchnorm", c))
            else:
                Z = g * (Z - params[f"running_mean{l}"]) / np.sqrt(params[f"running_var{l}"] + 1e-5) + b
        A, c = relu_forward(Z)
        caches.append(("relu", c))
        if train and config["dropout"] > 0:
            A, c = dropout_forward(A, config["dropout"], rng)
            caches.append(("dropout", c))
    return Z, (caches if train else None)


def mlp_backward(dlogits, caches):
    grads = {}
    l = len([1 for kind, _ in caches if kind == "dense"])
    d = dlogits
    for kind, c in reversed(caches):
        if kind == "dense":
            d, grads[f"W{l}"], grads[f"b{l}"] = dense_backward(d, c)
            l -= 1
        elif kind == "batchnorm":
            d, grads[f"gamma{l}"], grads[f"beta{l}"] = batchnorm_backward(d, c)
        elif kind == "relu":
            d = relu_backward(d, c)
        else:
            d = dropout_backward(d, c)
    return grads


def train_step(params, state, X, y, config, rng=None):
    logits, caches = mlp_forward(X, params, config, rng)
    loss, dlogits = softmax_cross_entropy(logits, y)
    grads = mlp_backward(dlogits, caches)
    t = state["t"] + 1
    new, m, v = dict(params), dict(state["m"]), dict(state["v"])
    for k in grads:
        new[k], m[k], v[k] = adam_step(params[k], grads[k], m[k], v[k], t, lr=config["lr"])
    N = len(X)
    bns = [c for kind, c in caches if kind == "batchnorm"]
    for l, c in enumerate(bns, start=1):
        new[f"running_mean{l}"] = 0.9 * params[f"running_mean{l}"] + 0.1 * c[2]
        new[f"running_var{l}"] = 0.9 * params[f"running_var{l}"] + 0.1 * c[3] * N / (N - 1)
    return new, {"t": t, "m": m, "v": v}, loss


def train_epoch(params, state, X, y, config, rng, batch_size=64):
    order = rng.permutation(len(X))
    total = 0.0
    for i in range(0, len(X), batch_size):
        idx = order[i:i + batch_size]
        params, state, loss = train_step(params, state, X[idx], y[idx], config, rng)
        total += loss * len(idx)
    return params, state, total / len(X)
