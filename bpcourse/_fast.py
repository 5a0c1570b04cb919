"""The fast internals behind ``bpcourse.nn`` and the optimizer classes of ``bpcourse.optim``.

The exercise functions (``bpcourse.layers``, ``losses``, ``optim``) are written to be read:
they validate their arguments, never modify them, and build every result from whole-array
expressions.  The modules and optimizers call the functions below instead.  They compute the
same numbers (``tests/test_fast_internals.py`` checks it in float64, to 1e-12) with less work:

- no validation: the modules check their inputs once, where they enter;
- fewer passes over memory: the compact batch-norm backward; sums of products (batch norm's
  variance and dgamma) taken by ``einsum`` without the product array when that array would
  not stay in the cache; softmax and cross-entropy fused (the true class's log-probability
  picked instead of a one-hot matrix built); Adam's moments updated in place in reused
  buffers;
- work in cache-sized pieces: the optimizers' updates (SGD, RMSprop, Adam, AdamW) walk the parameters in pieces that
  stay in the cache between their dozen passes, sized from the cache sizes the OS reports
  (``CACHE_SIZES``), not from constants tuned on one machine;
- no float64 promotion: scalars are Python floats (NumPy gives them the array's dtype),
  dropout masks are made in the array's dtype, from raw random bits (no float draws);
- the small parameters (biases, batch-norm scales) of every optimizer updated together, in
  one call per operation.

Every function here takes arrays that are already checked, and works in float32 and float64.
"""

from functools import lru_cache
import inspect
import math
import os
from pathlib import Path
import platform
import sys

import numpy as np


# ---------------------------------------------------------------- the machine's caches

# Used only when the OS tells nothing: the smallest sizes common on x86-64 and ARM64 CPUs of
# the last decade (so that a piece fits there too).
FALLBACK_CACHE_SIZES = {"L1d": 32 << 10, "L2": 256 << 10, "L3": None}


def read_cache_sizes(sysfs="/sys/devices/system/cpu/cpu0/cache"):
    """The data caches of cpu0, in bytes: ``{"L1d", "L2", "L3", "L3_cpus", "source"}``
    (``L3_cpus``: how many CPUs share the L3).

    Read from Linux's sysfs (``/sys/devices/system/cpu/cpu0/cache/index*/``), else from the C
    library (glibc's ``sysconf(_SC_LEVEL2_CACHE_SIZE)``; macOS's ``hw.l2cachesize``), where
    the CPUs sharing the L3 are not told (taken as all of them); a level the OS does not
    report takes ``FALLBACK_CACHE_SIZES``.
    """
    sizes = _sysfs_cache_sizes(Path(sysfs)) or _libc_cache_sizes()
    source = sizes.pop("source", None) if sizes else None
    out = dict(FALLBACK_CACHE_SIZES)
    out.update({k: v for k, v in (sizes or {}).items() if v})
    if out["L3"]:
        out["L3_cpus"] = (sizes or {}).get("L3_cpus") or os.cpu_count() or 1
    out["source"] = source or "fallback (the OS reported no cache sizes)"
    return out


def _sysfs_cache_sizes(root):
    sizes = {}
    try:
        for index in sorted(root.glob("index*")):
            kind = (index / "type").read_text().strip()
            level = int((index / "level").read_text())
            if kind == "Instruction":
                continue
            size = _parse_size((index / "size").read_text())
            name = "L1d" if level == 1 else f"L{level}"
            if size and name in FALLBACK_CACHE_SIZES:
                sizes[name] = size
                if name == "L3":
                    shared = index / "shared_cpu_list"
                    sizes["L3_cpus"] = _count_cpus(shared.read_text()) if shared.exists() else None
    except (OSError, ValueError):
        return None
    if not sizes:
        return None
    sizes["source"] = str(root)
    return sizes


def _count_cpus(cpu_list):
    """'0-3,8-11' -> 8."""
    count = 0
    for part in cpu_list.strip().split(","):
        if part:
            low, _, high = part.partition("-")
            count += int(high or low) - int(low) + 1
    return count or None


def _parse_size(text):
    """'32K' -> 32768, '1024K', '2M', '12288' (bytes)."""
    text = text.strip().upper().removesuffix("B")
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
    digits = text[:-1] if scale > 1 else text
    return int(digits) * scale if digits.isdigit() else None


def _libc_cache_sizes():
    sizes = {}
    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        # glibc's _SC_LEVEL1_DCACHE_SIZE, _SC_LEVEL2_CACHE_SIZE, _SC_LEVEL3_CACHE_SIZE
        # (bits/confname.h; Python's os.sysconf_names does not list them)
        for name, code in (("L1d", 188), ("L2", 191), ("L3", 194)):
            try:
                value = os.sysconf(code)
            except (ValueError, OSError):
                continue
            if value and value >= 4096:  # anything smaller is not a data cache's size
                sizes[name] = value
        source = "sysconf"
    elif sys.platform == "darwin":
        try:
            import ctypes
            libc = ctypes.CDLL(None)
            for name, key in (("L1d", b"hw.l1dcachesize"), ("L2", b"hw.l2cachesize"),
                              ("L3", b"hw.l3cachesize")):
                value, size = ctypes.c_int64(0), ctypes.c_size_t(8)
                if libc.sysctlbyname(key, ctypes.byref(value), ctypes.byref(size), None, 0) == 0 \
                        and value.value >= 4096:
                    sizes[name] = value.value
        except (OSError, AttributeError):
            return None
        source = "sysctl"
    else:
        return None
    if not sizes:
        return None
    sizes["source"] = source
    return sizes


CACHE_SIZES = read_cache_sizes()

# A piece is at least this many elements long: a NumPy call costs about a microsecond
# whatever its size, which must stay small beside the work it does on the piece (at about
# 0.1 ns per element and operation, 64 Ki elements take several microseconds).
MIN_PIECE = 1 << 16


def cache_per_core(cache=None):
    """Bytes of the last-level cache one core may count on: its share of the L3 (the L3
    divided among the CPUs that share it), or its L2 when the L3 is unknown or smaller."""
    cache = cache or CACHE_SIZES
    l3 = cache.get("L3")
    share = l3 // max(1, cache.get("L3_cpus") or 1) if l3 else 0
    return max(cache["L2"], share)


def piece_length(n_arrays, itemsize, cache=None):
    """Elements per piece when an update walks ``n_arrays`` arrays together, piece by piece:
    the pieces of all of them take half of one core's share of the last-level cache (the
    other half for the rest of the training step), so that every pass after the first over
    a piece reads it from the cache, not from memory; a multiple of 1024, at least
    ``MIN_PIECE``.

    (Pieces sized for the L2 cache instead are slower in NumPy: at a few tens of thousands
    of elements the cost of a call, not memory, decides: measured in training steps.)
    """
    n = (cache_per_core(cache) // 2) // (n_arrays * itemsize)
    return max(MIN_PIECE, n - n % 1024)


# ---------------------------------------------------------------- column sums

@lru_cache(maxsize=64)
def _ones(n, dtype):
    ones = np.ones(n, dtype=dtype)
    ones.flags.writeable = False
    return ones


def column_sums(A):
    """Σₙ A[n, :] for A (N, D): a matrix-vector product, on all BLAS threads, no temporary."""
    return _ones(A.shape[0], A.dtype) @ A


def column_dots(A, B):
    """Σₙ A[n, :] · B[n, :] for A, B (N, D).

    When the product A · B fits in half of one core's L2 cache, it is made and summed as
    above (the temporary never leaves the cache); beyond, ``einsum`` sums the products in one
    pass without making the array (a temporary that size costs a trip to memory and back:
    2.7× the time, measured at 512 × 1024 in float32)."""
    if A.nbytes <= CACHE_SIZES["L2"] // 2:
        return column_sums(A * B)
    return np.einsum("ij,ij->j", A, B)


# ---------------------------------------------------------------- dense layer

def dense_forward(X, W, b):
    """Z = X W + b (layers.dense_forward without the cache); Z is a new array."""
    Z = X @ W
    Z += b
    return Z


# ---------------------------------------------------------------- activations

def relu_forward(Z):
    """A = max(Z, 0); the backward needs only A (A > 0 exactly where Z > 0).

    (NumPy's maximum runs its vector loop only on two arrays, 1.6–2.7× faster than on an
    array and a scalar in isolation, but a row of zeros as the second operand made the step
    at (c) slower by 0.8 ms, measured: the scalar stays.)"""
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
    var = column_dots(Xc, Xc) / N
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
    dgamma = column_dots(dout, Xc) * inv_std                     # Σₙ dout · X̂
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
    dgamma = column_dots(dout, Xc) * inv_std
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
    taken off at the true classes, divided by N, computed in place.  (The row sums are a
    matrix-vector product: NumPy's sum along short rows costs 2–3× more.)
    """
    N, C = Z.shape
    rows = _arange(N)
    with np.errstate(over="ignore"):
        shifted = Z - Z.max(axis=1, keepdims=True)
    P = np.exp(shifted)
    sums = P @ _ones(C, P.dtype)
    log_p_true = shifted[rows, y] - np.log(sums)
    np.maximum(log_p_true, np.finfo(Z.dtype).min, out=log_p_true)  # as the exercise: no −inf
    loss = float(-log_p_true.sum(dtype=np.float64) / N)
    P /= sums[:, None]
    P[rows, y] -= 1
    P /= N
    return loss, P


@lru_cache(maxsize=64)
def _arange(n):
    rows = np.arange(n)
    rows.flags.writeable = False
    return rows


# ---------------------------------------------------------------- optimizer updates, in place

# Parameters smaller than this are packed together and updated with one call per operation:
# on them a NumPy call costs more than its work.
PACK_BELOW = MIN_PIECE // 2


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
    on flat pieces of every group, with the update's scratch buffers (its last parameters,
    named ``scratch...``) reused from call to call:

    - a large parameter is cut into pieces of at most ``piece_length(arrays, itemsize)``
      elements, so that the pieces of all the arrays of a group and of the scratch buffers
      stay in the cache between the update's passes;
    - small parameters (bias vectors, batch-norm scales) are packed into one flat array per
      position, updated with one call, and copied back (except the ``read_only`` positions):
      a few calls instead of a dozen per parameter.

    (A second thread does not pay: measured on 2 cores of a quiet machine, Adam's update of
    the benchmark's (b) and (c) models took 0.72 and 3.9 ms on two threads, 0.60 and 3.5 ms
    on one: between a step's matrix products it is bound by memory, not by the core.)
    """

    def __init__(self):
        self._buffers = {}

    def run(self, update, groups, *args, read_only=()):
        small, large = {}, []
        for group in groups:
            if group[0].size < PACK_BELOW:
                small.setdefault(group[0].dtype, []).append(group)
            else:
                large.append(group)
        packed = [(same_dtype, self._pack(same_dtype)) for same_dtype in small.values()]
        large += [pack for _, pack in packed]
        n_scratch = _n_scratch(update)
        for group in large:
            for piece in _cut(group, piece_length(len(group) + n_scratch, group[0].itemsize)):
                n = piece[0].size
                scratch = self._buffer(("scratch", update), piece[0].dtype, n, n_scratch)
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
            buffers = [np.empty(n, dtype=dtype) for _ in range(count)]
            self._buffers[key] = buffers
        return buffers


def _cut(group, length):
    """Flat views of a group's arrays, cut into pieces of at most ``length`` elements."""
    flat = [a.reshape(-1) for a in group]
    return [[a[start:start + length] for a in flat] for start in range(0, flat[0].size, length)]


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
