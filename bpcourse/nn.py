"""A tiny PyTorch-like model API: the math of ``bpcourse.layers``, made fast.

Each module pairs a forward with its backward: ``forward(X)`` stores what the backward
needs, ``backward(dout)`` adds the parameter gradients into ``p.grad`` (gradients
accumulate, as in PyTorch: call ``optimizer.zero_grad()`` each step) and returns the
gradient with respect to the module's input; ``backward(dout, input_grad=False)`` skips
that gradient and returns None (PyTorch never computes the gradient of the data; ``fit``
asks so of the whole model).  Shapes are batch-first, (N, features).  Parameters are
float32 unless a module is built with ``dtype=np.float64``.

The modules compute what the exercise functions of ``bpcourse.layers`` compute, with the
fused, in-place internals of ``bpcourse._fast`` (read ``bpcourse.layers`` for the math;
``tests/test_fast_internals.py`` checks that both agree).  Inputs are checked once, here;
no module modifies its input or the upstream gradient.
"""

from functools import lru_cache
import inspect
import numbers

import numpy as np

from . import _fast
from . import _validate as check
from .losses import _check_logits, softmax_cross_entropy


class Parameter:
    """A trainable array ``data`` with its gradient ``grad`` (same shape and dtype).

    ``zero_grad()`` resets the gradient without writing zeros at once: the next backward
    writes its gradient into ``grad`` instead of adding it to zeros (two passes over a large
    matrix saved), and reading ``p.grad`` before that fills it with zeros first.  So
    ``p.grad`` always reads as zeros after ``zero_grad()``, and is the same array as before.
    """

    def __init__(self, data, name="param"):
        self.data = data
        self.grad = np.zeros_like(data)
        self.name = name

    @property
    def grad(self):
        if self._zero_pending:
            self._grad.fill(0)
            self._zero_pending = False
        return self._grad

    @grad.setter
    def grad(self, value):
        self._grad, self._zero_pending = value, False

    def zero_grad(self):
        """Reset the gradient to zero (in place: ``grad`` stays the same array)."""
        self._zero_pending = True

    def add_to_grad(self, value):
        """grad += value (or grad = value, right after zero_grad)."""
        if self._zero_pending:
            np.copyto(self._grad, value)
            self._zero_pending = False
        else:
            self._grad += value

    def add_matmul_to_grad(self, A, B):
        """grad += A @ B, the product written straight into grad right after zero_grad."""
        if self._zero_pending:
            np.matmul(A, B, out=self._grad)
            self._zero_pending = False
        else:
            self._grad += A @ B

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

    def backward(self, dout, input_grad=True):
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
            p.zero_grad()

    def _saved(self, cache):
        if cache is None:
            raise RuntimeError(f"{self!r}: backward() was called before forward()")
        return cache

    def __repr__(self):
        return f"{type(self).__name__}()"


def backward_without_input_grad(module, dout):
    """``module.backward(dout, input_grad=False)``, or a plain ``backward(dout)`` whose result
    is dropped for a module written without the ``input_grad`` option (your own Module)."""
    if _accepts_input_grad(type(module)):
        module.backward(dout, input_grad=False)
    else:
        module.backward(dout)


@lru_cache(maxsize=None)
def _accepts_input_grad(cls):
    return "input_grad" in inspect.signature(cls.backward).parameters


def _rng(rng):
    """A numpy Generator from ``rng`` (a Generator, an int seed, or None for a fresh seed)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, numbers.Integral) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy.random.Generator or an int seed, got {type(rng).__name__}")


def _as_input(X, n_features, owner, dtype):
    """Check X is (N, n_features) and real-valued; return it in the module's dtype.
    (``owner`` is the module, named in the messages.)"""
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


def _as_upstream(dout, shape, owner, dtype):
    """Check the upstream gradient has the shape of the forward's output; return it in the
    module's dtype (a float64 gradient does not turn a float32 model into float64).
    (``owner`` is the module, named in the messages.)"""
    check.float_array(dout, "dout")
    if dout.shape != shape:
        raise ValueError(f"{owner}: the upstream gradient dout must have the shape of the "
                         f"forward's output {shape}, got {dout.shape}")
    return dout.astype(dtype, copy=False)


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
        self._X = None

    def forward(self, X):
        self._X = X = _as_input(X, self.in_features, self, self.W.data.dtype)
        return _fast.dense_forward(X, self.W.data, self.b.data)

    def backward(self, dZ, input_grad=True):
        X = self._saved(self._X)
        dZ = _as_upstream(dZ, (X.shape[0], self.out_features), self, X.dtype)
        self.W.add_matmul_to_grad(X.T, dZ)                  # dW = Xᵀ dZ
        self.b.add_to_grad(_fast.column_sums(dZ))           # db = Σₙ dZ
        return dZ @ self.W.data.T if input_grad else None   # dX = dZ Wᵀ

    def parameters(self):
        return [self.W, self.b]

    def __repr__(self):
        return f"Dense({self.in_features}, {self.out_features})"


class _Activation(Module):
    """An elementwise activation; the backward needs only the output A."""

    _forward = _backward = None

    def __init__(self):
        self._A = None

    def forward(self, X):
        self._A = type(self)._forward(check.float_array(X, "X"))
        return self._A

    def backward(self, dA, input_grad=True):
        A = self._saved(self._A)
        dA = _as_upstream(dA, A.shape, self, A.dtype)
        return type(self)._backward(dA, A) if input_grad else None


class ReLU(_Activation):
    """A = max(Z, 0); its derivative is 1 where Z > 0 and 0 elsewhere."""
    _forward, _backward = _fast.relu_forward, _fast.relu_backward


class Sigmoid(_Activation):
    """A = 1 / (1 + e^(−Z)); its derivative is A (1 − A)."""
    _forward, _backward = _fast.sigmoid_forward, _fast.sigmoid_backward


class Tanh(_Activation):
    """A = tanh(Z); its derivative is 1 − A²."""
    _forward, _backward = _fast.tanh_forward, _fast.tanh_backward


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
        X = _as_input(X, self.num_features, self, self.gamma.data.dtype)
        gamma, beta = self.gamma.data, self.beta.data
        if not self.training:
            out, saved = _fast.batchnorm_eval_forward(X, gamma, beta, self.running_mean,
                                                      self.running_var, self.eps)
            self._cache = ("eval", saved)
            return out
        N = X.shape[0]
        if N < 2:
            raise ValueError(
                f"{self!r} in training mode needs at least 2 examples per batch to estimate "
                f"a variance, got {N}; use a larger batch or call model.eval()"
            )
        out, saved, mu, var = _fast.batchnorm_forward(X, gamma, beta, self.eps)
        m = self.momentum  # running ← (1 − m)·running + m·batch, in place
        self.running_mean *= 1 - m
        self.running_mean += m * mu
        self.running_var *= 1 - m
        self.running_var += m * var * (N / (N - 1))
        self._cache = ("train", saved)
        return out

    def backward(self, dout, input_grad=True):
        mode, saved = self._saved(self._cache)
        Xc = saved[0]
        dout = _as_upstream(dout, Xc.shape, self, Xc.dtype)
        backward = _fast.batchnorm_backward if mode == "train" else _fast.batchnorm_eval_backward
        dX, dgamma, dbeta = backward(dout, saved, self.gamma.data, input_grad)
        self.gamma.add_to_grad(dgamma)
        self.beta.add_to_grad(dbeta)
        return dX

    def parameters(self):
        return [self.gamma, self.beta]

    def __repr__(self):
        return f"BatchNorm({self.num_features})"


class Dropout(Module):
    """Inverted dropout: in training mode drop each unit with probability ``p`` and scale
    the rest by 1 / (1 − p); in eval mode, the identity.  The mask is drawn in the input's
    dtype from ``rng`` (a seed or a numpy Generator), a new one on every call."""

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
        X = check.float_array(X, "X")
        self._mask = _fast.dropout_mask(self.rng, X.shape, self.p, X.dtype)
        return X * self._mask

    def backward(self, dout, input_grad=True):
        mask = self._saved(self._mask)
        if not input_grad:
            return None
        if isinstance(mask, str):
            return dout
        return _as_upstream(dout, mask.shape, self, mask.dtype) * mask

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

    def backward(self, dout, input_grad=True):
        """Backward through every module in reverse; returns dX, or None with
        ``input_grad=False`` (the first module then computes its parameters' gradients only)."""
        first, *rest = self.modules or [None]
        for m in reversed(rest):
            dout = m.backward(dout)
        if first is None:
            return dout if input_grad else None
        if input_grad:
            return first.backward(dout)
        backward_without_input_grad(first, dout)
        return None

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
    ``y`` holds integer labels (N,) or one-hot rows (N, C).
    """

    def __init__(self):
        self._dZ = None

    def __call__(self, Z, y):
        if isinstance(y, np.ndarray) and y.ndim == 1:
            _check_logits(Z, "Z")
            check.labels(y, Z.shape[0], Z.shape[1])
            loss, self._dZ = _fast.softmax_cross_entropy(Z, y)
        else:
            loss, self._dZ = softmax_cross_entropy(Z, y)
        return loss

    def backward(self):
        if self._dZ is None:
            raise RuntimeError("CrossEntropyLoss: backward() was called before the loss was computed")
        return self._dZ
