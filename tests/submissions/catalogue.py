"""Submissions for the grader's tests, built from ``correct.py`` by replacing functions.

Standard library only (the benchmark loads it by path too).  ``WRONG`` is the catalogue of
typical mistakes: each entry replaces ONE exercise function of ``correct.py`` by a wrong
version and names the words of the feedback that must identify the mistake.
"""

import ast
from dataclasses import dataclass
import json
from pathlib import Path
import textwrap

HERE = Path(__file__).resolve().parent
CORRECT = HERE / "correct.py"

#: every exercise function of the course, in course order, with its points (DESIGN.md)
EXERCISES = [
    "dense_forward", "relu_forward", "sigmoid_forward", "tanh_forward", "softmax",
    "cross_entropy", "numerical_gradient", "softmax_cross_entropy", "dense_backward",
    "two_layer_loss_and_grads", "relu_backward", "sigmoid_backward", "tanh_backward",
    "batchnorm_forward", "batchnorm_backward_graph", "batchnorm_backward", "dropout_forward",
    "dropout_backward", "sgd_step", "sgd_momentum_step", "adam_step", "mlp_forward",
    "mlp_backward", "train_step", "train_epoch",
]


def correct_source():
    return CORRECT.read_text(encoding="utf-8")


def function_span(source, name):
    """(first line, last line), 1-based and inclusive, of the top-level ``def name``."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            return first, node.end_lineno
    raise KeyError(f"no top-level function {name!r}")


def function_source(name, source=None):
    """The source of one top-level function of ``correct.py`` (or of ``source``)."""
    source = source if source is not None else correct_source()
    first, last = function_span(source, name)
    return "\n".join(source.splitlines()[first - 1:last]) + "\n"


def replace_functions(replacements, source=None, validate=True):
    """``correct.py`` with each function of ``replacements`` ({name: code}) replaced by code
    (dedented; it may define helpers and import modules too).  A replacement of None deletes.
    ``validate=False`` allows a result that is not valid Python (a syntax error on purpose)."""
    source = source if source is not None else correct_source()
    for name, code in replacements.items():
        lines = source.splitlines()
        first, last = function_span(source, name)
        new = [] if code is None else textwrap.dedent(code).strip("\n").splitlines()
        source = "\n".join(lines[:first - 1] + new + lines[last:]) + "\n"
    if validate:
        ast.parse(source)  # the catalogue itself must be valid Python
    return source


def write_py(path, replacements=None, validate=True):
    path = Path(path)
    path.write_text(replace_functions(replacements or {}, validate=validate), encoding="utf-8")
    return path


# ---------------------------------------------------------------- notebooks

def code_cell(source, exercise=None, outputs=None):
    meta = {"bpcourse": {"exercise": exercise, "points": 1}} if exercise else {}
    return {"cell_type": "code", "execution_count": None, "metadata": meta,
            "outputs": outputs or [], "source": source}


def markdown_cell(source):
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def notebook_json(cells):
    return json.dumps({"cells": cells, "metadata": {"kernelspec": {
        "display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5}, indent=1)


def exercise_cells(names=EXERCISES, replacements=None, check_cells=True):
    """One exercise cell per function (with ``_targets``, the helper of the losses, in the
    cells that use it), each followed by a student's check cell, as in the course."""
    replacements = replacements or {}
    helper = function_source("_targets")
    cells = []
    for name in names:
        code = textwrap.dedent(replacements.get(name) or function_source(name))
        if name in ("cross_entropy", "softmax_cross_entropy"):
            code = helper + "\n\n" + code
        cells.append(code_cell(code, exercise=name))
        if check_cells:
            cells.append(code_cell(f"{name} = check({name})", outputs=[{
                "output_type": "stream", "name": "stdout",
                "text": f"✓ {name} passed all tests.\n"}]))
    return cells


# ---------------------------------------------------------------- the catalogue of mistakes

@dataclass
class Wrong:
    exercise: str
    code: str
    hint: str          # words the feedback of ``exercise`` must contain (whitespace and case
                       # are ignored)


WRONG = {
    "dw_without_transpose": Wrong("dense_backward", """
        def dense_backward(dZ, cache):
            X, W, b = cache
            return dZ @ W.T, dZ.T @ X, dZ.sum(axis=0)
        """, "missing transpose: dW must have W's shape"),
    "db_not_summed": Wrong("dense_backward", """
        def dense_backward(dZ, cache):
            X, W, b = cache
            return dZ @ W.T, X.T @ dZ, dZ
        """, "the bias gradient is not summed over the batch"),
    "averaging_in_the_layer": Wrong("dense_backward", """
        def dense_backward(dZ, cache):
            X, W, b = cache
            N = len(dZ)
            return dZ @ W.T, X.T @ dZ / N, dZ.sum(axis=0) / N
        """, "averaging inside the layer"),
    "relu_derivative_1_at_0": Wrong("relu_backward", """
        def relu_backward(dA, cache):
            return dA * (cache >= 0)
        """, "ReLU's derivative at exactly 0"),
    "sigmoid_without_1_minus": Wrong("sigmoid_backward", """
        def sigmoid_backward(dA, cache):
            return dA * cache
        """, "the factor (1 − A) is missing"),
    "tanh_without_square": Wrong("tanh_backward", """
        def tanh_backward(dA, cache):
            return dA * (1 - cache)
        """, "the square is missing"),
    "softmax_without_max_shift": Wrong("softmax", """
        def softmax(Z):
            E = np.exp(Z)
            return E / E.sum(axis=1, keepdims=True)
        """, "softmax without the max shift"),
    "softmax_wrong_axis": Wrong("softmax", """
        def softmax(Z):
            E = np.exp(Z - Z.max(axis=0, keepdims=True))
            return E / E.sum(axis=0, keepdims=True)
        """, "softmax over the wrong axis"),
    "cross_entropy_sum": Wrong("cross_entropy", """
        def cross_entropy(P, y):
            Y = _targets(y, P)
            return float(-(Y * np.log(np.maximum(P, np.finfo(P.dtype).tiny))).sum())
        """, "the loss is the MEAN over the batch"),
    "batchnorm_backward_shortcut": Wrong("batchnorm_backward", """
        def batchnorm_backward(dout, cache):
            X, X_hat, mu, var, gamma, eps = cache
            return dout * gamma / np.sqrt(var + eps), (dout * X_hat).sum(0), dout.sum(0)
        """, "the shortcut dX = dout·gamma/√(σ²+eps)"),
    "batchnorm_n_minus_1": Wrong("batchnorm_forward", """
        def batchnorm_forward(X, gamma, beta, eps=1e-5):
            mu = X.mean(axis=0)
            var = X.var(axis=0, ddof=1)
            X_hat = (X - mu) / np.sqrt(var + eps)
            return gamma * X_hat + beta, (X, X_hat, mu, var, gamma, eps)
        """, "uses the BIASED batch variance"),
    "dropout_p_is_keep_probability": Wrong("dropout_forward", """
        def dropout_forward(X, p, rng):
            keep = rng.random(X.shape) < p
            mask = keep.astype(X.dtype) / X.dtype.type(p)
            return X * mask, mask
        """, "p is the probability of DROPPING a unit"),
    "dropout_without_rescaling": Wrong("dropout_forward", """
        def dropout_forward(X, p, rng):
            mask = (rng.random(X.shape) >= p).astype(X.dtype)
            return X * mask, mask
        """, "inverted dropout scales the kept units by 1/(1 − p)"),
    "momentum_other_sign": Wrong("sgd_momentum_step", """
        def sgd_momentum_step(w, dw, velocity, lr, momentum=0.9):
            v = momentum * velocity - lr * dw
            return w + v, v
        """, "momentum with the other sign convention"),
    "adam_without_bias_correction": Wrong("adam_step", """
        def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
            m = beta1 * m + (1 - beta1) * dw
            v = beta2 * v + (1 - beta2) * dw * dw
            return w - lr * m / (np.sqrt(v) + eps), m, v
        """, "Adam without bias correction"),
    "adam_eps_inside_the_root": Wrong("adam_step", """
        def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
            m = beta1 * m + (1 - beta1) * dw
            v = beta2 * v + (1 - beta2) * dw * dw
            m_hat = m / (1 - beta1**t)
            v_hat = v / (1 - beta2**t)
            return w - lr * m_hat / np.sqrt(v_hat + eps), m, v
        """, "eps goes after the square root"),
    "numerical_gradient_forward_difference": Wrong("numerical_gradient", """
        def numerical_gradient(f, x, h=1e-5):
            x = x.copy()
            grad = np.zeros(x.shape)
            fx = f(x)
            for i in np.ndindex(x.shape):
                old = x[i]
                x[i] = old + h
                grad[i] = (f(x) - fx) / h
                x[i] = old
            return grad
        """, "a forward difference (f(x+h) − f(x))/h has an error of order h"),
    "sgd_modifies_w_in_place": Wrong("sgd_step", """
        def sgd_step(w, dw, lr):
            w -= lr * dw
            return w
        """, "modified its input w in place"),
    "sgd_ascent": Wrong("sgd_step", """
        def sgd_step(w, dw, lr):
            return w + lr * dw
        """, "steps against the gradient"),
    # a broken forward must cost the forward only: its backward is also tested on the
    # reference's cache
    "dense_forward_transposes_W": Wrong("dense_forward", """
        def dense_forward(X, W, b):
            return X @ W.T + b, (X, W, b)
        """, "a matrix product with mismatched shapes"),
    "relu_forward_without_cache": Wrong("relu_forward", """
        def relu_forward(Z):
            return np.maximum(Z, 0)
        """, "should return a tuple"),
    "two_layer_without_relu_backward": Wrong("two_layer_loss_and_grads", """
        def two_layer_loss_and_grads(params, X, y):
            W1, b1, W2, b2 = params
            Z1, c1 = dense_forward(X, W1, b1)
            A1, cr = relu_forward(Z1)
            Z2, c2 = dense_forward(A1, W2, b2)
            loss, dZ2 = softmax_cross_entropy(Z2, y)
            dA1, dW2, db2 = dense_backward(dZ2, c2)
            _, dW1, db1 = dense_backward(dA1, c1)
            return loss, [dW1, db1, dW2, db2]
        """, "the gradient must go through ReLU"),
    "bn_graph_overwrites_dxc": Wrong("batchnorm_backward_graph", """
        def batchnorm_backward_graph(dout, cache):
            X, X_hat, mu, var, gamma, eps = cache
            N = len(X)
            xc, s = X - mu, np.sqrt(var + eps)
            dxh = dout * gamma
            dxc = dxh / s
            dvar = -(dxh * xc).sum(0) / s**2 / (2 * s)
            dxc = dvar * 2 * xc / N
            return dxc - dxc.mean(0), (dout * X_hat).sum(0), dout.sum(0)
        """, "SUM of both contributions"),
    "mlp_forward_relu_on_logits": Wrong("mlp_forward", """
        def mlp_forward(X, params, config, rng=None, train=True):
            L = len([k for k in params if k.startswith("W")])
            A, caches = X, []
            for l in range(1, L + 1):
                Z, c = dense_forward(A, params[f"W{l}"], params[f"b{l}"])
                caches.append(("dense", c))
                if config["batchnorm"] and l < L:
                    Z, c = batchnorm_forward(Z, params[f"gamma{l}"], params[f"beta{l}"])
                    caches.append(("batchnorm", c))
                A, c = relu_forward(Z)
                caches.append(("relu", c))
                if train and config["dropout"] > 0 and l < L:
                    A, c = dropout_forward(A, config["dropout"], rng)
                    caches.append(("dropout", c))
            return A, caches
        """, "no ReLU after the last layer"),
    "mlp_backward_without_bn_parameters": Wrong("mlp_backward", """
        def mlp_backward(dlogits, caches):
            grads = {}
            l = len([1 for kind, _ in caches if kind == "dense"])
            d = dlogits
            for kind, c in reversed(caches):
                if kind == "dense":
                    d, grads[f"W{l}"], grads[f"b{l}"] = dense_backward(d, c)
                    l -= 1
                elif kind == "batchnorm":
                    d = batchnorm_backward(d, c)[0]
                elif kind == "relu":
                    d = relu_backward(d, c)
                else:
                    d = dropout_backward(d, c)
            return grads
        """, "a layer's gradients are missing"),
    "train_step_biased_running_variance": Wrong("train_step", """
        def train_step(params, state, X, y, config, rng=None):
            logits, caches = mlp_forward(X, params, config, rng)
            loss, dlogits = softmax_cross_entropy(logits, y)
            grads = mlp_backward(dlogits, caches)
            t = state["t"] + 1
            new, m, v = dict(params), dict(state["m"]), dict(state["v"])
            for k in grads:
                new[k], m[k], v[k] = adam_step(params[k], grads[k], m[k], v[k], t, lr=config["lr"])
            bns = [c for kind, c in caches if kind == "batchnorm"]
            for l, c in enumerate(bns, start=1):
                new[f"running_mean{l}"] = 0.9 * params[f"running_mean{l}"] + 0.1 * c[2]
                new[f"running_var{l}"] = 0.9 * params[f"running_var{l}"] + 0.1 * c[3]
            return new, {"t": t, "m": m, "v": v}, loss
        """, "UNBIASED batch variance"),
    "train_epoch_unweighted_mean": Wrong("train_epoch", """
        def train_epoch(params, state, X, y, config, rng, batch_size=64):
            order = rng.permutation(len(X))
            losses = []
            for i in range(0, len(X), batch_size):
                idx = order[i:i + batch_size]
                params, state, loss = train_step(params, state, X[idx], y[idx], config, rng)
                losses.append(loss)
            return params, state, sum(losses) / len(losses)
        """, "weight each batch's loss by its size"),
}


# ---------------------------------------------------------------- simple crashes (benchmark)

HOSTILE_SIMPLE = {
    "infinite_loop": ("softmax", """
        def softmax(Z):
            while True:
                pass
        """),
    "os_exit": ("adam_step", """
        def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
            import os
            os._exit(3)
        """),
    "sys_exit": ("sgd_step", """
        def sgd_step(w, dw, lr):
            import sys
            sys.exit(0)
        """),
    "memory_hog": ("dropout_backward", """
        def dropout_backward(dout, cache):
            hog = []
            while True:
                hog.append(bytearray(50 * 2**20))
        """),
    "sleeps": ("cross_entropy", """
        def cross_entropy(P, y):
            import time
            time.sleep(1000)
        """),
}
