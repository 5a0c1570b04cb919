"""A tiny PyTorch-like model API built on the layer functions of ``bpcourse.layers``.

Each module pairs a forward with its backward: ``forward(X)`` stores what the backward
needs, ``backward(dout)`` adds the parameter gradients into ``p.grad`` (gradients
accumulate, as in PyTorch: call ``optimizer.zero_grad()`` each step) and returns the
gradient with respect to the module's input.  Shapes are batch-first, (N, features).
Parameters are float32 unless a module is built with ``dtype=np.float64``.
"""

import numbers

import numpy as np

from . import layers
from .losses import softmax_cross_entropy


class Parameter:
    """A trainable array ``data`` with its gradient ``grad`` (same shape and dtype)."""

    def __init__(self, data, name="param"):
        self.data = data
        self.grad = np.zeros_like(data)
        self.name = name

    @property
    def shape(self):
        return self.data.shape

    def __repr__(self):
        return f"Parameter({self.name}, shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class: ``forward``, ``backward``, ``parameters``, ``train`` / ``eval``."""

    training = True

    def __call__(self, X):
        return self.forward(X)

    def forward(self, X):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError

    def parameters(self):
        """The module's trainable ``Parameter`` objects, in a list."""
        return []

    def train(self, mode=True):
        """Switch to training mode (batch statistics, dropout on); returns self."""
        self.training = bool(mode)
        return self

    def eval(self):
        """Switch to evaluation mode (running statistics, dropout off); returns self."""
        return self.train(False)

    def zero_grad(self):
        for p in self.parameters():
            p.grad[...] = 0

    def _saved(self, cache):
        if cache is None:
            raise RuntimeError(f"{self!r}: backward() was called before forward()")
        return cache

    def __repr__(self):
        return f"{type(self).__name__}()"


def _rng(rng):
    """A numpy Generator from ``rng`` (a Generator, an int seed, or None for a fresh seed)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, numbers.Integral) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy.random.Generator or an int seed, got {type(rng).__name__}")


def _as_input(X, n_features, owner, dtype):
    """Check X is (N, n_features) and real-valued; return it in the module's dtype."""
    X = np.asarray(X)
    if X.dtype.kind not in "fiub":
        raise TypeError(f"{owner} expects a real-valued array, got dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"{owner} expects input of shape (N, {n_features}), got shape {X.shape}")
    if X.shape[1] != n_features:
        raise ValueError(
            f"{owner} expects inputs with {n_features} features (shape (N, {n_features})), "
            f"got {X.shape[1]} features"
        )
    return X.astype(dtype, copy=False)


class Dense(Module):
    """Z = X W + b with W (in_features, out_features) and b (out_features,).

    ``init="he"`` draws W ~ N(0, 2 / in_features) (for ReLU nets); ``init="xavier"`` draws
    W ~ N(0, 2 / (in_features + out_features)) (for tanh / sigmoid nets); b starts at 0.
    """

    def __init__(self, in_features, out_features, rng=None, init="he", dtype=np.float32):
        for name, n in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
                raise ValueError(f"Dense: {name} must be a positive integer, got {n!r}")
        scales = {"he": 2 / in_features, "xavier": 2 / (in_features + out_features)}
        if init not in scales:
            raise ValueError(f"Dense: init must be one of {sorted(scales)}, got {init!r}")
        std = np.sqrt(scales[init])
        W = _rng(rng).normal(0.0, std, size=(in_features, out_features))
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.W = Parameter(W.astype(dtype), "W")
        self.b = Parameter(np.zeros(out_features, dtype=dtype), "b")
        self._cache = None

    def forward(self, X):
        X = _as_input(X, self.in_features, repr(self), self.W.data.dtype)
        Z, self._cache = layers.dense_forward(X, self.W.data, self.b.data)
        return Z

    def backward(self, dZ):
        dX, dW, db = layers.dense_backward(dZ, self._saved(self._cache))
        self.W.grad += dW
        self.b.grad += db
        return dX

    def parameters(self):
        return [self.W, self.b]

    def __repr__(self):
        return f"Dense({self.in_features}, {self.out_features})"


class _Activation(Module):
    """An elementwise activation: a forward/backward pair from ``bpcourse.layers``."""

    _forward = _backward = None

    def __init__(self):
        self._cache = None

    def forward(self, X):
        A, self._cache = type(self)._forward(X)
        return A

    def backward(self, dA):
        return type(self)._backward(dA, self._saved(self._cache))


class ReLU(_Activation):
    """A = max(Z, 0); its derivative is 1 where Z > 0 and 0 elsewhere."""
    _forward, _backward = layers.relu_forward, layers.relu_backward


class Sigmoid(_Activation):
    """A = 1 / (1 + e^(−Z)); its derivative is A (1 − A)."""
    _forward, _backward = layers.sigmoid_forward, layers.sigmoid_backward


class Tanh(_Activation):
    """A = tanh(Z); its derivative is 1 − A²."""
    _forward, _backward = layers.tanh_forward, layers.tanh_backward


class BatchNorm(Module):
    """Batch normalization over the features of (N, num_features) inputs (PyTorch's BatchNorm1d).

    Training mode normalizes with the batch mean and biased variance and updates
    ``running_mean`` / ``running_var`` with ``momentum`` (running ← (1 − m)·running + m·batch,
    the variance taken unbiased, N − 1); eval mode normalizes with the running statistics.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, dtype=np.float32):
        if isinstance(num_features, bool) or not isinstance(num_features, numbers.Integral) \
                or num_features < 1:
            raise ValueError(f"BatchNorm: num_features must be a positive integer, got {num_features!r}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNorm: momentum must be in [0, 1], got {momentum}")
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), float(momentum)
        self.gamma = Parameter(np.ones(num_features, dtype=dtype), "gamma")
        self.beta = Parameter(np.zeros(num_features, dtype=dtype), "beta")
        self.running_mean = np.zeros(num_features, dtype=dtype)
        self.running_var = np.ones(num_features, dtype=dtype)
        self._cache = None

    def forward(self, X):
        X = _as_input(X, self.num_features, repr(self), self.gamma.data.dtype)
        if not self.training:
            inv_std = 1 / np.sqrt(self.running_var + self.eps)
            X_hat = (X - self.running_mean) * inv_std
            self._cache = ("eval", X_hat, inv_std)
            return self.gamma.data * X_hat + self.beta.data
        N = X.shape[0]
        if N < 2:
            raise ValueError(
                f"{self!r} in training mode needs at least 2 examples per batch to estimate "
                f"a variance, got {N}; use a larger batch or call model.eval()"
            )
        out, cache = layers.batchnorm_forward(X, self.gamma.data, self.beta.data, self.eps)
        _, _, mu, var, _, _ = cache
        m = self.momentum
        self.running_mean[...] = (1 - m) * self.running_mean + m * mu
        self.running_var[...] = (1 - m) * self.running_var + m * var * (N / (N - 1))
        self._cache = ("train", cache)
        return out

    def backward(self, dout):
        mode, *saved = self._saved(self._cache)
        if mode == "train":
            dX, dgamma, dbeta = layers.batchnorm_backward(dout, saved[0])
        else:  # the running statistics are constants: an affine map per feature
            X_hat, inv_std = saved
            dX = dout * self.gamma.data * inv_std
            dgamma, dbeta = (dout * X_hat).sum(axis=0), dout.sum(axis=0)
        self.gamma.grad += dgamma
        self.beta.grad += dbeta
        return dX

    def parameters(self):
        return [self.gamma, self.beta]

    def __repr__(self):
        return f"BatchNorm({self.num_features})"


class Dropout(Module):
    """Inverted dropout: in training mode drop each unit with probability ``p`` and scale
    the rest by 1 / (1 − p); in eval mode, the identity."""

    def __init__(self, p=0.5, rng=None):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p is the probability of dropping a unit, in [0, 1]; got {p}")
        self.p = float(p)
        self.rng = _rng(rng)
        self._mask = None

    def forward(self, X):
        if not self.training or self.p == 0.0:
            self._mask = "identity"
            return X
        out, self._mask = layers.dropout_forward(X, self.p, self.rng)
        return out

    def backward(self, dout):
        mask = self._saved(self._mask)
        return dout if isinstance(mask, str) else layers.dropout_backward(dout, mask)

    def __repr__(self):
        return f"Dropout(p={self.p})"


class Sequential(Module):
    """Modules applied in order; ``backward`` runs them in reverse."""

    def __init__(self, *modules):
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: item {i} is a {type(m).__name__}, not a bpcourse.nn module")
        self.modules = list(modules)

    def forward(self, X):
        for m in self.modules:
            X = m.forward(X)
        return X

    def backward(self, dout):
        for m in reversed(self.modules):
            dout = m.backward(dout)
        return dout

    def parameters(self):
        return [p for m in self.modules for p in m.parameters()]

    def train(self, mode=True):
        super().train(mode)
        for m in self.modules:
            m.train(mode)
        return self

    def __getitem__(self, i):
        return self.modules[i]

    def __len__(self):
        return len(self.modules)

    def __repr__(self):
        inner = "".join(f"\n  ({i}): {m!r}" for i, m in enumerate(self.modules))
        return f"Sequential({inner}\n)"


class CrossEntropyLoss:
    """Softmax + mean cross-entropy on logits, like ``torch.nn.CrossEntropyLoss``.

    ``loss = criterion(Z, y)`` returns a float; ``criterion.backward()`` returns dZ.
    """

    def __init__(self):
        self._dZ = None

    def __call__(self, Z, y):
        loss, self._dZ = softmax_cross_entropy(Z, y)
        return loss

    def backward(self):
        if self._dZ is None:
            raise RuntimeError("CrossEntropyLoss: backward() was called before the loss was computed")
        return self._dZ
