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


def tape_backward(tape, output, grad=1.0):
    grads = {output: grad}
    for op, inputs, out, cache in reversed(tape):
        if out not in grads:
            continue
        g = grads[out]
        if op == "dense":
            rule = dense_backward(g, cache)
        elif op == "batchnorm":
            rule = batchnorm_backward(g, cache)
        elif op == "relu":
            rule = (relu_backward(g, cache),)
        elif op == "dropout":
            rule = (dropout_backward(g, cache),)
        elif op == "add":
            rule = (g, g)
        else:
            rule = (g * cache,)
        for i, gi in zip(inputs, rule):
            grads[i] = grads[i] + gi if i in grads else gi
    return grads


class Tape:
    def __init__(self):
        self.entries, self.watched, self.count = [], [], 0

    def new_id(self):
        self.count += 1
        return f"t{self.count - 1}"


class Tensor:
    def __init__(self, data, tape):
        self.data, self.tape, self.id, self.grad = data, tape, tape.new_id(), None

    def _record(self, op, inputs, data, cache):
        out = Tensor(data, self.tape)
        self.tape.entries.append((op, tuple(t.id for t in inputs), out.id, cache))
        return out

    def dense(self, W, b):
        Z, cache = dense_forward(self.data, W.data, b.data)
        return self._record("dense", (self, W, b), Z, cache)

    def batchnorm(self, gamma, beta):
        out, cache = batchnorm_forward(self.data, gamma.data, beta.data)
        return self._record("batchnorm", (self, gamma, beta), out, cache)

    def relu(self):
        A, cache = relu_forward(self.data)
        return self._record("relu", (self,), A, cache)

    def dropout(self, p, rng):
        out, cache = dropout_forward(self.data, p, rng)
        return self._record("dropout", (self,), out, cache)

    def __add__(self, other):
        return self._record("add", (self, other), self.data + other.data, None)

    def softmax_ce(self, y):
        loss, dZ = softmax_cross_entropy(self.data, y)
        return self._record("softmax_ce", (self,), loss, dZ)

    def backward(self):
        grads = tape_backward(self.tape.entries, self.id, 1.0)
        for t in self.tape.watched:
            t.grad = grads.get(t.id)


def autograd_grads(X, y, params, config, rng=None, backward_calls=1):
    tape = Tape()
    P = {k: Tensor(v, tape) for k, v in params.items() if not k.startswith("running_")}
    tape.watched += P.values()
    K = len([k for k in params if k.startswith("W")])
    A = Tensor(X, tape)
    for l in range(1, K + 1):
        w = 2 if config.get("tied") and 2 <= l < K else l
        Z = A.dense(P[f"W{w}"], P[f"b{w}"])
        if l == K:
            break
        if config["batchnorm"]:
            Z = Z.batchnorm(P[f"gamma{l}"], P[f"beta{l}"])
        H = Z.relu()
        if config["dropout"] > 0:
            H = H.dropout(config["dropout"], rng)
        A = A + H if config.get("residual") and H.data.shape == A.data.shape else H
    loss = Z.softmax_ce(y)
    for _ in range(backward_calls):
        loss.backward()
    return float(loss.data), {k: t.grad for k, t in P.items() if t.grad is not None}


def he_init(fan_in, fan_out, rng, dtype=np.float32):
    return rng.normal(0.0, np.sqrt(2 / fan_in), size=(fan_in, fan_out)).astype(dtype)


def update_ratios(params, grads, lr):
    return {k: float(lr * np.linalg.norm(grads[k]) / np.linalg.norm(params[k]))
            for k in params if k.startswith("W")}


def sgd_weight_decay_step(w, dw, lr, weight_decay):
    return w - lr * (dw + weight_decay * w)


def rmsprop_step(w, dw, v, lr=1e-2, alpha=0.99, eps=1e-8):
    v = alpha * v + (1 - alpha) * dw * dw
    return w - lr * dw / (np.sqrt(v) + eps), v


def adamw_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
    w = w * (1 - lr * weight_decay)
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw * dw
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def cosine_warmup_lr(step, base_lr, warmup_steps, total_steps, min_lr=0.0):
    if step < warmup_steps:
        return base_lr * (step + 1) / (warmup_steps + 1)
    if step >= total_steps:
        return min_lr
    t = (step - warmup_steps) / (total_steps - warmup_steps)
    return float(min_lr + (base_lr - min_lr) * (1 + np.cos(np.pi * t)) / 2)
