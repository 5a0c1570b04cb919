"""A tiny reverse-mode autograd over arrays, whose backward rules are the layer functions.

Every operation on ``Tensor``s runs a layer's forward function and records one entry on the
``Tape`` of its inputs: ``(op, inputs, output, cache)`` — the name of the layer, the ids of
the input tensors, the id of the output tensor and the cache the forward returned.
``tape_backward`` walks the tape in reverse and applies each layer's backward function to the
gradient of the entry's output, adding what it gives to the gradients of the entry's inputs
(a tensor used twice collects the sum).  ``Tensor.backward()`` runs it from a scalar loss and
stores each tensor's gradient in ``.grad``; it starts from zero every time, so calling it
twice gives the same gradients (PyTorch would add them up, see notebook 13).

This is notebook 13's reference (``tape_backward``, ``autograd_grads``).
"""

import itertools

import numpy as np

from .layers import (batchnorm_backward, batchnorm_forward, dense_backward, dense_forward,
                     dropout_backward, dropout_forward, relu_backward, relu_forward)
from .losses import softmax_cross_entropy

OPS = ("dense", "batchnorm", "relu", "dropout", "add", "softmax_ce")


# ---------------------------------------------------------------- the backward pass

def tape_backward(tape, output, grad=1.0):
    """Gradients of the tensor ``output`` with respect to every tensor it depends on.

    tape: list of (op, inputs, output, cache) in forward order, op one of OPS, inputs a tuple
    of tensor ids, output an id, cache what the op's forward returned (the loss's dZ for
    "softmax_ce", None for "add").  ``grad``: the gradient of the final scalar with respect to
    ``output`` (1.0 when ``output`` is that scalar).  -> {tensor id: gradient}, a fresh dict.
    """
    grads = {output: grad}
    for op, inputs, out, cache in reversed(tape):
        if out not in grads:                 # not on the way to ``output``: nothing flows back
            continue
        for i, g in zip(inputs, _backward_rule(op, grads[out], cache)):
            grads[i] = grads[i] + g if i in grads else g    # a tensor used twice: the sum
    return grads


def _backward_rule(op, g, cache):
    """The gradients of an op's inputs, in the order of its inputs."""
    if op == "dense":
        return dense_backward(g, cache)
    if op == "batchnorm":
        return batchnorm_backward(g, cache)
    if op == "relu":
        return (relu_backward(g, cache),)
    if op == "dropout":
        return (dropout_backward(g, cache),)
    if op == "add":
        return g, g
    if op == "softmax_ce":
        return (g * cache,)
    raise ValueError(f"unknown op {op!r} on the tape; the ops are {', '.join(OPS)}")


# ---------------------------------------------------------------- tensors that record

class Tape:
    """The record of a forward pass: entries (op, input ids, output id, cache)."""

    def __init__(self):
        self.entries = []
        self.watched = []          # the tensors whose .grad backward() fills
        self._ids = itertools.count()

    def new_id(self):
        """A name for the next tensor: "t0", "t1", ..."""
        return f"t{next(self._ids)}"


class Tensor:
    """An array ``data`` that remembers how it was computed (on ``tape``), with ``grad``."""

    def __init__(self, data, tape=None):
        self.data = data
        self.tape = tape if tape is not None else Tape()
        self.id = self.tape.new_id()
        self.grad = None

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
        """Gradients of this scalar with respect to every tensor of its tape, into ``.grad``
        (of the tensors registered with ``watch``; every one that was reached)."""
        grads = tape_backward(self.tape.entries, self.id, 1.0)
        for t in self.tape.watched:
            t.grad = grads.get(t.id)
        return grads


def parameters(params, tape):
    """{key: Tensor} for a dict of parameter arrays, on ``tape``, watched for ``.grad``."""
    tensors = {key: Tensor(value, tape) for key, value in params.items()}
    tape.watched += tensors.values()
    return tensors


# ---------------------------------------------------------------- a whole network

def autograd_grads(X, y, params, config, rng=None, backward_calls=1):
    """Loss and gradients of the MLP of notebook 10, by the tape, in training mode.

    X (N, D0), y integer labels (N,), params and config as for ``network.mlp_forward``; with
    ``config["tied"]`` the hidden layers 2 … K-1 all use W2 and b2 (one set of weights used
    several times); with ``config["residual"]`` a hidden layer whose input and output widths
    agree adds its input to its output (A ← A + block(A)).
    ``backward_calls``: how many times ``loss.backward()`` is called (the gradients must not
    depend on it).  -> (loss as a float, {key: gradient} for the trained parameters used).
    """
    tape, P, loss = record_mlp(X, y, params, config, rng)
    for _ in range(backward_calls):
        loss.backward()
    return float(loss.data), {k: t.grad for k, t in P.items() if t.grad is not None}


def record_mlp(X, y, params, config, rng=None):
    """The forward pass of ``autograd_grads`` on a new tape: (tape, {key: Tensor}, loss)."""
    tape = Tape()
    P = parameters({k: v for k, v in params.items() if not k.startswith("running_")}, tape)
    K = sum(1 for k in params if k.startswith("W"))
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
    return tape, P, Z.softmax_ce(y)
