"""The fast internals behind ``bpcourse.nn`` and the optimizer classes of ``bpcourse.optim``.

The exercise functions (``bpcourse.layers``, ``losses``, ``optim``) are written to be read:
they validate their arguments, never modify them, and build every result from whole-array
expressions.  The modules and optimizers call the functions below instead.  They compute the
same numbers (``tests/test_fast_internals.py`` checks it in float64, to 1e-12) with less work:

- no validation: the modules check their inputs once, where they enter;
- fewer passes over memory: the compact batch-norm backward, softmax and cross-entropy fused
  (the true class's log-probability picked instead of a one-hot matrix built), Adam's
  moments updated in place in reused buffers;
- column sums (batch norm, bias gradients) as matrix-vector products, which BLAS runs on
  every core without a temporary;
- no float64 promotion: scalars are Python floats (NumPy gives them the array's dtype),
  dropout masks are made in the array's dtype, from raw random bits (no float draws);
- the optimizers' updates walk large parameters in pieces that stay in the CPU's caches,
  and update all the small parameters (biases, batch-norm scales) together.

Every function here takes arrays that are already checked, and works in float32 and float64.
"""

from functools import lru_cache
import inspect
import math

import numpy as np


# ---------------------------------------------------------------- column sums

@lru_cache(maxsize=64)
def _ones(n, dtype):
    ones = np.ones(n, dtype=dtype)
    ones.flags.writeable = False
    return ones


def column_sums(A):
    """Σₙ A[n, :] for A (N, D): a matrix-vector product, on all BLAS threads, no temporary."""
    return _ones(A.shape[0], A.dtype) @ A


# ---------------------------------------------------------------- dense layer

def dense_forward(X, W, b):
    """Z = X W + b (layers.dense_forward without the cache); Z is a new array."""
    Z = X @ W
    Z += b
    return Z


# ---------------------------------------------------------------- activations

def relu_forward(Z):
    """A = max(Z, 0); the backward needs only A (A > 0 exactly where Z > 0)."""
    return np.maximum(Z, 0)


def relu_backward(dA, A):
    return dA * (A > 0)


def sigmoid_forward(Z):
    """A = 1 / (1 + e^(−Z)).  e^(−Z) may overflow to inf for very negative Z: 1 / inf = 0 is
    then the right answer, so the overflow is silenced rather than avoided."""
    with np.errstate(over="ignore"):
        E = np.exp(-Z)
    E += 1
    return np.reciprocal(E, out=E)


def sigmoid_backward(dA, A):
    dZ = 1 - A
    dZ *= A
    dZ *= dA
    return dZ


def tanh_forward(Z):
    return np.tanh(Z)


def tanh_backward(dA, A):
    dZ = A * A
    np.subtract(1, dZ, out=dZ)
    dZ *= dA
    return dZ


# ---------------------------------------------------------------- batch normalization

def batchnorm_forward(X, gamma, beta, eps):
    """Training-mode batch norm: returns ``out, (X_centered, inv_std), mu, var``.

    The same numbers as layers.batchnorm_forward (biased variance); X̂ = X_centered · inv_std
    is never stored: the output and the backward use X_centered and the per-feature inv_std.
    """
    N = X.shape[0]
    mu = column_sums(X) / N
    Xc = X - mu
    var = column_sums(Xc * Xc) / N
    inv_std = 1 / np.sqrt(var + eps)
    out = Xc * (gamma * inv_std)   # γ · X̂
    out += beta
    return out, (Xc, inv_std), mu, var


def batchnorm_backward(dout, saved, gamma, input_grad=True):
    """(dX, dgamma, dbeta) of layers.batchnorm_backward, in the compact form.

    With dX̂ = dout · γ, the sums of the exercise's formula are Σₙ dX̂ = γ · dbeta and
    Σₙ dX̂ · X̂ = γ · dgamma, so that dX = γ/σ · (dout − dbeta/N − X̂ · dgamma/N).
    """
    Xc, inv_std = saved
    N = dout.shape[0]
    dbeta = column_sums(dout)
    dgamma = column_sums(dout * Xc) * inv_std                    # Σₙ dout · X̂
    if not input_grad:
        return None, dgamma, dbeta
    dX = Xc * (inv_std * dgamma / N)                             # X̂ · dgamma / N
    dX += dbeta / N
    np.subtract(dout, dX, out=dX)
    dX *= gamma * inv_std
    return dX, dgamma, dbeta


def batchnorm_eval_forward(X, gamma, beta, running_mean, running_var, eps):
    """Eval-mode batch norm with the running statistics: an affine map per feature."""
    inv_std = 1 / np.sqrt(running_var + eps)
    Xc = X - running_mean
    out = Xc * (gamma * inv_std)
    out += beta
    return out, (Xc, inv_std)


def batchnorm_eval_backward(dout, saved, gamma, input_grad=True):
    """The running statistics are constants: dX = dout · γ/σ, dgamma = Σ dout · X̂."""
    Xc, inv_std = saved
    dbeta = column_sums(dout)
    dgamma = column_sums(dout * Xc) * inv_std
    dX = dout * (gamma * inv_std) if input_grad else None
    return dX, dgamma, dbeta


# ---------------------------------------------------------------- dropout

def dropout_mask(rng, shape, p, dtype):
    """The mask of layers.dropout_forward: 0 where a unit is dropped, 1 / (1 − p) where kept.

    Each unit gets 32 random bits of ``rng`` (one 64-bit draw serves two units) and is kept
    where they are ≥ p · 2³², which happens with probability 1 − p to within 2⁻³²: half the
    work of drawing a float per unit and comparing it with p.
    """
    n = math.prod(shape)
    threshold = math.ceil(p * 2**32)
    if threshold >= 2**32:  # p = 1 (to within 2⁻³²): every unit is dropped
        return np.zeros(shape, dtype=dtype)
    bits = rng.bit_generator.random_raw((n + 1) // 2).view(np.uint32)[:n].reshape(shape)
    mask = np.greater_equal(bits, np.uint32(threshold), out=np.empty(shape, dtype=dtype))
    mask *= 1.0 / (1.0 - p)
    return mask


# ---------------------------------------------------------------- softmax + cross-entropy

def softmax_cross_entropy(Z, y):
    """(loss, dZ) of losses.softmax_cross_entropy, for integer labels y (N,).

    One exponential pass; the loss reads log P only at the true classes, and dZ is P with 1
    taken off at the true classes, divided by N, computed in place.
    """
    N = Z.shape[0]
    rows = np.arange(N)
    with np.errstate(over="ignore"):
        shifted = Z - Z.max(axis=1, keepdims=True)
    P = np.exp(shifted)
    sums = P.sum(axis=1)
    log_p_true = shifted[rows, y] - np.log(sums)
    np.maximum(log_p_true, np.finfo(Z.dtype).min, out=log_p_true)  # as the exercise: no −inf
    loss = float(-log_p_true.sum(dtype=np.float64) / N)
    P /= sums[:, None]
    P[rows, y] -= 1
    P /= N
    return loss, P


# ---------------------------------------------------------------- optimizer updates, in place

# Elements per piece of a parameter: Adam touches 4 arrays and a scratch buffer of this
# length, 5 · 64 Ki · 4 B = 1.25 MiB in float32, which stays in the CPU's caches between its
# 12 passes (measured in training steps: as fast from 32 Ki to 256 Ki, slower below).
PIECE = 1 << 16
# Parameters smaller than this are packed together and updated with one call per operation.
PACK_BELOW = 1 << 12


def sgd_update(w, g, lr, scratch):
    """sgd_step in place: w ← w − lr · g."""
    step = np.multiply(g, lr, out=scratch)
    w -= step


def sgd_momentum_update(w, g, velocity, lr, momentum, scratch):
    """sgd_momentum_step in place: v ← μ v + g;  w ← w − lr · v."""
    velocity *= momentum
    velocity += g
    step = np.multiply(velocity, lr, out=scratch)
    w -= step


def sgd_weight_decay_update(w, g, lr, weight_decay, scratch):
    """sgd_weight_decay_step in place: w ← w − lr · (g + λ w), the same operations."""
    step = np.multiply(w, weight_decay, out=scratch)
    step += g
    step *= lr
    w -= step


def sgd_momentum_weight_decay_update(w, g, velocity, lr, momentum, weight_decay, scratch):
    """sgd_momentum_step on the gradient g + λ w (PyTorch's SGD: the decay before the momentum)."""
    decayed = np.multiply(w, weight_decay, out=scratch)
    decayed += g
    velocity *= momentum
    velocity += decayed
    step = np.multiply(velocity, lr, out=scratch)
    w -= step


def rmsprop_update(w, g, v, lr, alpha, eps, scratch):
    """rmsprop_step in place: v ← α v + (1 − α) g²;  w ← w − lr · g / (√v + ε)."""
    v *= alpha
    g2 = np.multiply(g, 1 - alpha, out=scratch)
    g2 *= g
    v += g2
    step = np.sqrt(v, out=scratch)
    step += eps
    np.divide(g, step, out=step)
    step *= lr
    w -= step


def rmsprop_l2_update(w, g, v, lr, alpha, eps, weight_decay, scratch, scratch_grad):
    """rmsprop_update on the gradient g + λ w (PyTorch's RMSprop(weight_decay=λ))."""
    decayed = np.multiply(w, weight_decay, out=scratch_grad)
    decayed += g
    rmsprop_update(w, decayed, v, lr, alpha, eps, scratch)


def adam_l2_update(w, g, m, v, t, lr, beta1, beta2, eps, weight_decay, scratch, scratch_grad):
    """adam_update on the gradient g + λ w (PyTorch's Adam(weight_decay=λ): L2, not decoupled)."""
    decayed = np.multiply(w, weight_decay, out=scratch_grad)
    decayed += g
    adam_update(w, decayed, m, v, t, lr, beta1, beta2, eps, scratch)


def adamw_update(w, g, m, v, t, lr, beta1, beta2, eps, weight_decay, scratch):
    """adamw_step in place: w ← w · (1 − lr · λ) first, then adam_update with g alone."""
    w *= 1 - lr * weight_decay
    adam_update(w, g, m, v, t, lr, beta1, beta2, eps, scratch)


def adam_update(w, g, m, v, t, lr, beta1, beta2, eps, scratch):
    """adam_step in place: m and v exactly as the exercise's formula, w rearranged.

    m ← β₁ m + (1 − β₁) g;  v ← β₂ v + (1 − β₂) g²;  then, with the bias corrections
    c₁ = 1 − β₁ᵗ and c₂ = 1 − β₂ᵗ, the exercise's  w ← w − lr · (m/c₁) / (√(v/c₂) + ε)
    is  w ← w − (lr √c₂ / c₁) · m / (√v + ε √c₂):  the corrections become two scalars,
    5 passes over the arrays instead of 7.
    """
    m *= beta1
    m += np.multiply(g, 1 - beta1, out=scratch)
    v *= beta2
    g2 = np.multiply(g, 1 - beta2, out=scratch)
    g2 *= g
    v += g2
    c1, c2 = 1 - beta1**t, 1 - beta2**t
    step = np.sqrt(v, out=scratch)
    step += eps * math.sqrt(c2)
    np.divide(m, step, out=step)
    step *= lr * math.sqrt(c2) / c1
    w -= step


class PieceWise:
    """Runs an in-place update over groups of same-shaped arrays, piece by piece.

    ``groups`` lists tuples of contiguous arrays, e.g. (w, g, m, v) for every parameter.
    ``run(update, groups, *args, read_only=(1,))`` calls ``update(*arrays, *args, *scratch)``
    on flat pieces of at most ``PIECE`` elements of every group, with the update's scratch
    buffers (its last parameters, named ``scratch...``) reused from call to call:

    - a large parameter is cut into pieces, which stay in the CPU's caches;
    - small parameters (bias vectors, batch-norm scales) are packed into one flat array per
      position, updated with one call, and copied back (except the ``read_only`` positions):
      a few calls instead of a dozen per parameter.

    (A second thread does not pay here: between a training step's matrix products the
    update is bound by memory bandwidth, not by the core; measured on 2 cores.)
    """

    def __init__(self):
        self._buffers = {}

    def run(self, update, groups, *args, read_only=()):
        pieces, small = [], {}
        for group in groups:
            if group[0].size < PACK_BELOW:
                small.setdefault(group[0].dtype, []).append(group)
            else:
                pieces += _cut(group)
        packed = [(same_dtype, self._pack(same_dtype)) for same_dtype in small.values()]
        for _, pack in packed:
            pieces += _cut(pack)
        for piece in pieces:
            n = piece[0].size
            scratch = self._buffer(("scratch", update), piece[0].dtype, n, _n_scratch(update))
            update(*piece, *args, *(b[:n] for b in scratch))
        for same_dtype, pack in packed:
            _unpack(pack, same_dtype, read_only)

    def _pack(self, groups):
        """The arrays of several groups concatenated position by position, in reused buffers."""
        n = sum(group[0].size for group in groups)
        buffers = self._buffer("pack", groups[0][0].dtype, n, len(groups[0]))
        return [np.concatenate([group[k].reshape(-1) for group in groups], out=buffer[:n])
                for k, buffer in enumerate(buffers)]

    def _buffer(self, key, dtype, n, count):
        """``count`` buffers of at least n elements, kept under ``key`` for the next calls."""
        key = (key, np.dtype(dtype))
        buffers = self._buffers.get(key)
        if buffers is None or buffers[0].size < n or len(buffers) < count:
            buffers = [np.empty(max(n, PIECE), dtype=dtype) for _ in range(count)]
            self._buffers[key] = buffers
        return buffers


def _cut(group):
    """Flat views of a group's arrays, cut into pieces of at most PIECE elements."""
    flat = [a.reshape(-1) for a in group]
    return [[a[start:start + PIECE] for a in flat] for start in range(0, flat[0].size, PIECE)]


def _unpack(pack, groups, read_only):
    """Copy the packed arrays back into the groups' arrays (except the read-only positions)."""
    for k, packed in enumerate(pack):
        if k in read_only:
            continue
        start = 0
        for group in groups:
            a = group[k]
            np.copyto(a, packed[start:start + a.size].reshape(a.shape))
            start += a.size


@lru_cache(maxsize=None)
def _n_scratch(update):
    names = inspect.signature(update).parameters
    return sum(name.startswith("scratch") for name in names)
