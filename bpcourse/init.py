"""Weight initialization: random weights whose scale keeps the signal steady (notebook 11).

A dense layer Z = X W with W (fan_in, fan_out) = (D, M), entries independent with mean 0,
gives Var(Z) = D · Var(W) · E[X²].  Behind a ReLU, E[X²] is half the variance of the layer
below, so Var(W) = 2 / D keeps the variance from layer to layer (He); for tanh, which is
close to the identity near 0, Var(W) = 1 / D forward and 1 / M backward, and Glorot and
Bengio's compromise is 2 / (D + M) (Xavier).

The layout is the course's: fan_in = W.shape[0].  PyTorch stores ``nn.Linear``'s weight as
(out, in), so there fan_in = weight.shape[1]; ``torch.nn.init.kaiming_normal_(w,
nonlinearity="relu")`` (mode "fan_in") draws what ``he_init`` draws, ``xavier_normal_`` what
``xavier_init`` draws.  Both draw in float64 from the generator given and then cast, as
``nn.Dense`` and ``network.init_mlp`` do, so the same seed gives the same weights.
"""

import numbers

import numpy as np


def he_init(fan_in, fan_out, rng, dtype=np.float32):
    """He (Kaiming) initialization, for a layer followed by a ReLU.

    -> W (fan_in, fan_out) ~ N(0, 2 / fan_in), drawn as
    ``rng.normal(0.0, np.sqrt(2 / fan_in), size=(fan_in, fan_out))`` and cast to ``dtype``.
    ``rng``: a numpy Generator (or a seed).
    """
    return _normal(fan_in, fan_out, rng, dtype, lambda D, M: 2.0 / D, "he_init")


def xavier_init(fan_in, fan_out, rng, dtype=np.float32):
    """Xavier (Glorot) initialization, normal form, for tanh and sigmoid layers.

    -> W (fan_in, fan_out) ~ N(0, 2 / (fan_in + fan_out)), drawn as
    ``rng.normal(0.0, np.sqrt(2 / (fan_in + fan_out)), size=(fan_in, fan_out))``, cast to ``dtype``.
    """
    return _normal(fan_in, fan_out, rng, dtype, lambda D, M: 2.0 / (D + M), "xavier_init")


def _normal(fan_in, fan_out, rng, dtype, variance, name):
    for arg, n in (("fan_in", fan_in), ("fan_out", fan_out)):
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"{name}: {arg} must be a positive integer (a number of units), "
                             f"got {n!r}")
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name}: dtype must be np.float32 or np.float64, got {dtype!r}") from None
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"{name}: dtype must be np.float32 or np.float64, got {dtype}")
    if not isinstance(rng, (np.random.Generator, numbers.Integral)) or isinstance(rng, bool):
        raise TypeError(f"{name}: rng must be a numpy Generator (np.random.default_rng(seed)) "
                        f"or a seed, got {type(rng).__name__}")
    rng = np.random.default_rng(rng)
    std = np.sqrt(variance(int(fan_in), int(fan_out)))
    return rng.normal(0.0, std, size=(int(fan_in), int(fan_out))).astype(dtype)
