"""The fast internals (bpcourse._fast, behind bpcourse.nn and the optimizer classes) give the
numbers of the exercise functions (bpcourse.layers / losses / optim), in float64 to 1e-12,
and keep float32 float32 end to end."""

import math
import warnings

import numpy as np
import pytest

from bpcourse import _fast, layers, losses, nn, optim
from bpcourse.training import fit

F64, F32 = np.float64, np.float32
TIGHT = dict(rtol=1e-12, atol=1e-14)
SEEDS = [0, 1, 2]


def close(actual, expected, what="", **tol):
    np.testing.assert_allclose(actual, expected, err_msg=what, **(tol or TIGHT))


def _upstream(rng, shape):
    return rng.normal(size=shape)


# =============================================================== Dense

@pytest.mark.parametrize("seed", SEEDS)
def test_dense_forward_backward_match_the_exercise(seed):
    rng = np.random.default_rng(seed)
    layer = nn.Dense(7, 5, rng=seed, dtype=F64)
    layer.b.data[...] = rng.normal(size=5)
    X, G = rng.normal(size=(9, 7)), _upstream(rng, (9, 5))
    Z_ref, cache = layers.dense_forward(X, layer.W.data, layer.b.data)
    dX_ref, dW_ref, db_ref = layers.dense_backward(G, cache)
    close(layer.forward(X), Z_ref, "Z")
    close(layer.backward(G), dX_ref, "dX")
    close(layer.W.grad, dW_ref, "dW")
    close(layer.b.grad, db_ref, "db")
    # gradients accumulate; input_grad=False computes the same parameter gradients, no dX
    layer.forward(X)
    assert layer.backward(G, input_grad=False) is None
    close(layer.W.grad, 2 * dW_ref, "dW accumulated")
    close(layer.b.grad, 2 * db_ref, "db accumulated")


def test_dense_backward_checks_the_upstream_gradient():
    layer = nn.Dense(4, 3, rng=0)
    layer.forward(np.ones((5, 4)))
    with pytest.raises(ValueError, match=r"Dense\(4, 3\): the upstream gradient dout must have the "
                                         r"shape of the forward's output \(5, 3\), got \(5, 4\)"):
        layer.backward(np.ones((5, 4)))
    with pytest.raises(TypeError, match="dout must be a float32 or float64 array"):
        layer.backward(np.ones((5, 3), dtype=int))


# =============================================================== activations

@pytest.mark.parametrize("module, forward, backward", [
    (nn.ReLU, layers.relu_forward, layers.relu_backward),
    (nn.Sigmoid, layers.sigmoid_forward, layers.sigmoid_backward),
    (nn.Tanh, layers.tanh_forward, layers.tanh_backward),
], ids=["ReLU", "Sigmoid", "Tanh"])
@pytest.mark.parametrize("seed", SEEDS)
def test_activations_match_the_exercise(module, forward, backward, seed):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(6, 5)) * 4
    Z[0, :3] = [0.0, -800.0, 800.0]  # the ReLU kink, and sigmoid's overflow in either direction
    G = _upstream(rng, Z.shape)
    A_ref, cache = forward(Z)
    m = module()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning either
        A = m.forward(Z)
        dZ = m.backward(G)
    close(A, A_ref, "A", rtol=1e-12, atol=1e-300)
    close(dZ, backward(G, cache), "dZ", rtol=1e-12, atol=1e-300)
    assert m.backward(G, input_grad=False) is None


# =============================================================== batch normalization

def _batchnorm(rng, d, dtype=F64):
    bn = nn.BatchNorm(d, dtype=dtype)
    bn.gamma.data[...] = rng.uniform(0.5, 2, size=d) * rng.choice([-1.0, 1.0], size=d)
    bn.beta.data[...] = rng.normal(size=d)
    return bn


@pytest.mark.parametrize("seed", SEEDS)
def test_batchnorm_training_mode_matches_the_exercise(seed):
    rng = np.random.default_rng(seed)
    bn = _batchnorm(rng, 6)
    X = rng.normal(size=(11, 6)) * rng.uniform(0.1, 10, size=6) + rng.normal(size=6) * 5
    G = _upstream(rng, X.shape)
    out_ref, cache = layers.batchnorm_forward(X, bn.gamma.data, bn.beta.data, bn.eps)
    dX_ref, dgamma_ref, dbeta_ref = layers.batchnorm_backward(G, cache)
    close(bn.forward(X), out_ref, "out")
    close(bn.backward(G), dX_ref, "dX")
    close(bn.gamma.grad, dgamma_ref, "dgamma")
    close(bn.beta.grad, dbeta_ref, "dbeta")
    # the running statistics: momentum 0.1, unbiased variance
    _, _, mu, var, _, _ = cache
    close(bn.running_mean, 0.1 * mu, "running_mean")
    close(bn.running_var, 0.9 + 0.1 * var * 11 / 10, "running_var")
    # input_grad=False: the same parameter gradients, no dX
    bn.zero_grad()
    bn.forward(X)
    assert bn.backward(G, input_grad=False) is None
    close(bn.gamma.grad, dgamma_ref, "dgamma without dX")
    close(bn.beta.grad, dbeta_ref, "dbeta without dX")


@pytest.mark.parametrize("seed", SEEDS)
def test_batchnorm_eval_mode_is_the_affine_map_of_the_running_statistics(seed):
    rng = np.random.default_rng(seed)
    bn = _batchnorm(rng, 5)
    bn.running_mean[...] = rng.normal(size=5)
    bn.running_var[...] = rng.uniform(0.5, 3, size=5)
    bn.eval()
    X, G = rng.normal(size=(7, 5)) * 3, _upstream(rng, (7, 5))
    inv_std = 1 / np.sqrt(bn.running_var + bn.eps)
    X_hat = (X - bn.running_mean) * inv_std
    close(bn.forward(X), bn.gamma.data * X_hat + bn.beta.data, "out")
    close(bn.backward(G), G * bn.gamma.data * inv_std, "dX")
    close(bn.gamma.grad, (G * X_hat).sum(axis=0), "dgamma")
    close(bn.beta.grad, G.sum(axis=0), "dbeta")


def test_fast_batchnorm_functions_match_the_exercise_directly():
    rng = np.random.default_rng(3)
    X, G = rng.normal(size=(8, 4)) + 10, _upstream(rng, (8, 4))
    gamma, beta = rng.normal(size=4), rng.normal(size=4)
    out_ref, cache = layers.batchnorm_forward(X, gamma, beta, 1e-5)
    out, saved, mu, var = _fast.batchnorm_forward(X, gamma, beta, 1e-5)
    close(out, out_ref)
    close(mu, cache[2])
    close(var, cache[3])
    for got, ref in zip(_fast.batchnorm_backward(G, saved, gamma), layers.batchnorm_backward(G, cache)):
        close(got, ref)


@pytest.fixture
def small_cache(monkeypatch):
    """A 16 KiB L2 and no L3: every piece takes its smallest size, MIN_PIECE elements, and
    sums of products are taken with einsum from 8 KiB on."""
    monkeypatch.setattr(_fast, "CACHE_SIZES", {"L1d": 4096, "L2": 16384, "L3": None, "source": "test"})


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("cache", ["einsum", "product"])
def test_batchnorm_on_a_large_batch_matches_the_exercise(seed, cache, request):
    if cache == "einsum":
        request.getfixturevalue("small_cache")
    rng = np.random.default_rng(seed)
    N, D = 2500, 7
    assert (N * D * 8 > _fast.CACHE_SIZES["L2"] // 2) == (cache == "einsum")  # the path taken
    bn = _batchnorm(rng, D)
    X = rng.normal(size=(N, D)) * rng.uniform(0.1, 10, size=D) + rng.normal(size=D) * 5
    G = _upstream(rng, X.shape)
    out_ref, cache = layers.batchnorm_forward(X, bn.gamma.data, bn.beta.data, bn.eps)
    dX_ref, dgamma_ref, dbeta_ref = layers.batchnorm_backward(G, cache)

    def near(actual, expected, what):  # 1e-12 of the largest entry: sums of 2500 terms
        close(actual, expected, what, rtol=1e-12, atol=1e-12 * np.abs(expected).max())

    near(bn.forward(X), out_ref, "out")
    near(bn.backward(G), dX_ref, "dX")
    near(bn.gamma.grad, dgamma_ref, "dgamma")
    near(bn.beta.grad, dbeta_ref, "dbeta")


@pytest.mark.parametrize("cache", ["einsum", "product"])
def test_column_sums_and_dots(cache, request):
    if cache == "einsum":
        request.getfixturevalue("small_cache")
    rng = np.random.default_rng(4)
    A, B = rng.normal(size=(330, 5)), rng.normal(size=(330, 5))
    assert (A.nbytes > _fast.CACHE_SIZES["L2"] // 2) == (cache == "einsum")
    close(_fast.column_sums(A), A.sum(axis=0))
    close(_fast.column_dots(A, B), (A * B).sum(axis=0))
    assert _fast.column_dots(A.astype(F32), B.astype(F32)).dtype == F32


# =============================================================== the machine's caches

def _fake_sysfs(root, entries):
    for i, (kind, level, size) in enumerate(entries):
        d = root / f"index{i}"
        d.mkdir(parents=True)
        (d / "type").write_text(kind + "\n")
        (d / "level").write_text(f"{level}\n")
        (d / "size").write_text(size + "\n")
    return root


def test_cache_sizes_are_read_from_sysfs(tmp_path):
    root = _fake_sysfs(tmp_path / "cache", [("Data", 1, "48K"), ("Instruction", 1, "32K"),
                                            ("Unified", 2, "2048K"), ("Unified", 3, "96M")])
    (root / "index3" / "shared_cpu_list").write_text("0-7,16-23\n")
    sizes = _fast.read_cache_sizes(root)
    assert sizes == {"L1d": 48 << 10, "L2": 2 << 20, "L3": 96 << 20, "L3_cpus": 16,
                     "source": str(root)}
    assert _fast.cache_per_core(sizes) == 6 << 20


def test_cache_sizes_fall_back_when_the_os_tells_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(_fast, "_libc_cache_sizes", lambda: None)
    sizes = _fast.read_cache_sizes(tmp_path / "missing")
    assert {k: sizes[k] for k in _fast.FALLBACK_CACHE_SIZES} == _fast.FALLBACK_CACHE_SIZES
    assert sizes["source"].startswith("fallback")
    # a level the OS leaves out takes the fallback, the others the OS's numbers
    root = _fake_sysfs(tmp_path / "cache", [("Data", 1, "64K")])
    sizes = _fast.read_cache_sizes(root)
    assert sizes["L1d"] == 64 << 10 and sizes["L2"] == _fast.FALLBACK_CACHE_SIZES["L2"]


def test_this_machines_cache_sizes_are_plausible():
    sizes = _fast.CACHE_SIZES
    assert 8 << 10 <= sizes["L1d"] <= 4 << 20, sizes
    assert 64 << 10 <= sizes["L2"] <= 512 << 20, sizes


def test_pieces_fill_half_of_a_cores_share_of_the_last_level_cache():
    cache = {"L2": 1 << 20, "L3": 32 << 20, "L3_cpus": 2}   # 16 MiB of L3 per core
    assert _fast.cache_per_core(cache) == 16 << 20
    for n_arrays, itemsize in [(5, 4), (5, 8), (3, 4)]:
        n = _fast.piece_length(n_arrays, itemsize, cache)
        assert n % 1024 == 0
        assert n * n_arrays * itemsize <= 8 << 20 < (n + 1024) * n_arrays * itemsize
    # no L3, or a share smaller than the L2: the L2; never below MIN_PIECE
    assert _fast.cache_per_core({"L2": 1 << 20, "L3": None}) == 1 << 20
    assert _fast.cache_per_core({"L2": 2 << 20, "L3": 32 << 20, "L3_cpus": 64}) == 2 << 20
    assert _fast.piece_length(5, 4, {"L2": 4096, "L3": None}) == _fast.MIN_PIECE


# =============================================================== dropout

def _mask_from_bits(seed, shape, p):
    """The mask the module draws: 32 random bits per unit, kept where bits >= p·2³²."""
    n = math.prod(shape)
    bits = np.random.default_rng(seed).bit_generator.random_raw((n + 1) // 2).view(np.uint32)[:n]
    keep = bits.reshape(shape).astype(np.float64) >= math.ceil(p * 2**32)
    return keep / (1 - p)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
@pytest.mark.parametrize("shape", [(6, 5), (7, 3)])  # an odd number of units too
def test_dropout_with_a_fixed_seed_matches_the_exercise(p, shape):
    rng = np.random.default_rng(0)
    X, G = rng.normal(size=shape), _upstream(rng, shape)
    drop = nn.Dropout(p, rng=42)
    out = drop.forward(X)
    mask = _mask_from_bits(42, shape, p)
    assert mask.any() or p == 0.9
    np.testing.assert_array_equal(drop._mask, mask)
    # the exercise's formulas, with that mask
    close(out, X * mask, "out")
    close(drop.backward(G), layers.dropout_backward(G, mask), "dX")
    assert drop.backward(G, input_grad=False) is None
    # the same as the exercise's forward would give with that mask as its cache
    np.testing.assert_array_equal(np.unique(mask), np.unique(np.where(mask > 0, 1 / (1 - p), 0.0)))


def test_dropout_p_one_and_p_zero():
    X = np.ones((4, 3))
    np.testing.assert_array_equal(nn.Dropout(1.0, rng=0).forward(X), np.zeros((4, 3)))
    assert nn.Dropout(0.0, rng=0).forward(X) is X


def test_dropout_keeps_about_one_minus_p_in_float32():
    drop = nn.Dropout(0.3, rng=5)
    out = drop.forward(np.ones((400, 500), dtype=F32))
    assert out.dtype == F32 and drop._mask.dtype == F32
    n = out.size
    assert abs(np.count_nonzero(out == 0) - 0.3 * n) <= 5 * np.sqrt(n * 0.3 * 0.7)
    assert set(np.unique(out)) == {F32(0), F32(1 / 0.7)}


# =============================================================== softmax + cross-entropy

@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("scale", [1.0, 50.0, 1e4])
def test_fused_softmax_cross_entropy_matches_the_exercise(seed, scale):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(9, 4)) * scale
    y = rng.integers(0, 4, size=9)
    loss_ref, dZ_ref = losses.softmax_cross_entropy(Z, y)
    loss, dZ = _fast.softmax_cross_entropy(Z, y)
    assert loss == pytest.approx(loss_ref, rel=1e-12, abs=1e-300)
    close(dZ, dZ_ref, "dZ", rtol=1e-12, atol=1e-15)
    crit = nn.CrossEntropyLoss()
    assert crit(Z, y) == pytest.approx(loss_ref, rel=1e-12)
    close(crit.backward(), dZ_ref, "dZ of CrossEntropyLoss", rtol=1e-12, atol=1e-15)
    assert crit(Z, np.eye(4)[y]) == pytest.approx(loss_ref, rel=1e-12)  # one-hot labels


def test_fused_softmax_cross_entropy_with_a_huge_spread():
    Z = np.array([[0.0, -1e308, 1e308], [3.0, 2.0, 1.0]])
    y = np.array([1, 0])
    loss_ref, dZ_ref = losses.softmax_cross_entropy(Z, y)
    loss, dZ = _fast.softmax_cross_entropy(Z, y)
    assert np.isfinite(loss) and loss == pytest.approx(loss_ref, rel=1e-12)
    close(dZ, dZ_ref, rtol=1e-12, atol=1e-15)


def test_cross_entropy_loss_reports_bad_labels_and_logits():
    crit = nn.CrossEntropyLoss()
    with pytest.raises(ValueError, match=r"labels in y must be in \[0, 2\]"):
        crit(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="NaN or infinite"):
        crit(np.array([[np.nan, 0.0]]), np.array([0]))


# =============================================================== optimizers

# a large parameter (cut into pieces), a middle one, and small ones (packed together)
SHAPES = [(3 * _fast.piece_length(5, 8) + 37,), (300, 7), (4,), (3, 2), (1,)]


def _parameters(rng, shapes=SHAPES, dtype=F64):
    return [nn.Parameter(rng.normal(size=s).astype(dtype), f"p{i}") for i, s in enumerate(shapes)]


def _trajectory(kind, make_optimizer, steps=4, seed=0):
    rng = np.random.default_rng(seed)
    params = _parameters(rng)
    ws = [p.data.copy() for p in params]
    state = [[np.zeros_like(w), np.zeros_like(w)] for w in ws]
    opt = make_optimizer(params)
    for t in range(1, steps + 1):
        grads = [rng.normal(size=p.shape) for p in params]
        opt.zero_grad()
        for p, g in zip(params, grads):
            p.grad += g
        opt.step()
        for k, g in enumerate(grads):
            if kind == "sgd":
                ws[k] = optim.sgd_step(ws[k], g, 0.1)
            elif kind == "momentum":
                ws[k], state[k][0] = optim.sgd_momentum_step(ws[k], g, state[k][0], 0.1, 0.8)
            else:
                ws[k], state[k][0], state[k][1] = optim.adam_step(
                    ws[k], g, state[k][0], state[k][1], t, 0.01, 0.85, 0.99, 1e-6)
        for k, (p, w) in enumerate(zip(params, ws)):
            close(p.data, w, f"parameter {k} after step {t}")
        if kind == "momentum":
            for k, v in enumerate(opt.velocities):
                close(v, state[k][0], f"velocity {k}")
        if kind == "adam":
            for k in range(len(params)):
                close(opt.m[k], state[k][0], f"m {k}")
                close(opt.v[k], state[k][1], f"v {k}")
    return params


MAKERS = {
    "sgd": lambda ps: optim.SGD(ps, lr=0.1),
    "momentum": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.8),
    "adam": lambda ps: optim.Adam(ps, lr=0.01, betas=(0.85, 0.99), eps=1e-6),
}


@pytest.mark.parametrize("kind", list(MAKERS))
@pytest.mark.parametrize("seed", SEEDS)
def test_optimizer_classes_follow_the_step_functions(kind, seed):
    _trajectory(kind, MAKERS[kind], seed=seed)


@pytest.mark.parametrize("kind", list(MAKERS))
def test_optimizer_classes_follow_the_step_functions_in_small_pieces(kind, small_cache):
    assert _fast.piece_length(5, 8) == _fast.MIN_PIECE  # the large parameter: many pieces
    _trajectory(kind, MAKERS[kind], seed=7)


@pytest.mark.parametrize("kind", list(MAKERS))
def test_optimizer_on_a_non_contiguous_parameter_uses_the_step_functions(kind):
    rng = np.random.default_rng(0)
    base = rng.normal(size=(6, 8))
    p = nn.Parameter(base[:, ::2])  # a view with strides: no in-place flat update possible
    q = nn.Parameter(base[:, ::2].copy())
    opt_p, opt_q = MAKERS[kind]([p]), MAKERS[kind]([q])
    for _ in range(3):
        g = rng.normal(size=p.shape)
        for param, opt in ((p, opt_p), (q, opt_q)):
            opt.zero_grad()
            param.grad += g
            opt.step()
    close(p.data, q.data)
    close(base[:, ::2], q.data)  # updated in place, through the view


def test_adam_update_matches_adam_step_in_float32_too():
    rng = np.random.default_rng(1)
    w, g, m = (rng.normal(size=1000).astype(F32) for _ in range(3))
    v = np.abs(rng.normal(size=1000)).astype(F32)
    w_ref, m_ref, v_ref = optim.adam_step(w, g, m, v, 3, lr=1e-3)
    w2, m2, v2 = w.copy(), m.copy(), v.copy()
    _fast.adam_update(w2, g, m2, v2, 3, 1e-3, 0.9, 0.999, 1e-8, np.empty_like(w))
    np.testing.assert_array_equal(m2, m_ref)  # the moments: the same operations
    np.testing.assert_array_equal(v2, v_ref)
    np.testing.assert_allclose(w2, w_ref, rtol=1e-6, atol=1e-9)
    assert w2.dtype == m2.dtype == v2.dtype == F32


# =============================================================== zero_grad without writing zeros

def test_zero_grad_then_backward_writes_and_reading_grad_gives_zeros():
    rng = np.random.default_rng(0)
    layer = nn.Dense(3, 2, rng=0, dtype=F64)
    X, G = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    layer.forward(X)
    layer.backward(G)
    grad = layer.W.grad
    opt = optim.SGD(layer.parameters(), lr=0.1)
    opt.zero_grad()
    assert layer.W.grad is grad and np.all(layer.W.grad == 0)  # read: zeros, the same array
    layer.W.grad[0, 0] = 5.0                                     # written after zero_grad: kept
    layer.forward(X)
    layer.backward(G)
    expected = X.T @ G
    expected[0, 0] += 5.0
    close(layer.W.grad, expected)
    layer.zero_grad()                                            # not read before the backward
    layer.backward(G)
    close(layer.W.grad, X.T @ G)
    close(layer.b.grad, G.sum(axis=0))
    layer.W.grad = np.ones((3, 2))                                # a new array replaces the old
    layer.backward(G)
    close(layer.W.grad, 1 + X.T @ G)


# =============================================================== a whole training step

def _reference_step(params, X, y, masks, bn_eps, t, lr=1e-2):
    """Dense-BN-ReLU-Dropout-Dense + softmax cross-entropy + Adam, with the exercise functions.
    ``params``: dict of arrays (updated); returns the loss."""
    Z1, c1 = layers.dense_forward(X, params["W1"], params["b1"])
    B1, cb = layers.batchnorm_forward(Z1, params["gamma"], params["beta"], bn_eps)
    A1, cr = layers.relu_forward(B1)
    D1 = A1 * masks[0]
    Z2, c2 = layers.dense_forward(D1, params["W2"], params["b2"])
    loss, dZ2 = losses.softmax_cross_entropy(Z2, y)
    dD1, dW2, db2 = layers.dense_backward(dZ2, c2)
    dA1 = layers.dropout_backward(dD1, masks[0])
    dB1 = layers.relu_backward(dA1, cr)
    dZ1, dgamma, dbeta = layers.batchnorm_backward(dB1, cb)
    _, dW1, db1 = layers.dense_backward(dZ1, c1)
    grads = dict(W1=dW1, b1=db1, gamma=dgamma, beta=dbeta, W2=dW2, b2=db2)
    for name, g in grads.items():
        m, v = params["m_" + name], params["v_" + name]
        params[name], params["m_" + name], params["v_" + name] = optim.adam_step(
            params[name], g, m, v, t, lr=lr)
    return loss, cb


@pytest.mark.parametrize("seed", SEEDS)
def test_a_whole_training_step_matches_the_exercise_functions(seed):
    rng = np.random.default_rng(seed)
    model = nn.Sequential(nn.Dense(6, 9, rng=seed, dtype=F64), nn.BatchNorm(9, dtype=F64),
                          nn.ReLU(), nn.Dropout(0.3, rng=seed + 10), nn.Dense(9, 4, rng=seed + 1, dtype=F64))
    dense1, bn, _, drop, dense2 = model.modules
    names = dict(W1=dense1.W, b1=dense1.b, gamma=bn.gamma, beta=bn.beta, W2=dense2.W, b2=dense2.b)
    ref = {name: p.data.copy() for name, p in names.items()}
    for name in names:
        ref["m_" + name], ref["v_" + name] = np.zeros_like(ref[name]), np.zeros_like(ref[name])
    running_mean, running_var = np.zeros(9), np.ones(9)
    criterion, opt = nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2)
    for t in range(1, 4):
        X, y = rng.normal(size=(12, 6)), rng.integers(0, 4, size=12)
        opt.zero_grad()
        loss = criterion(model(X), y)
        assert model.backward(criterion.backward(), input_grad=False) is None
        opt.step()
        loss_ref, cache = _reference_step(ref, X, y, [drop._mask], bn.eps, t)
        assert loss == pytest.approx(loss_ref, rel=1e-12)
        for name, p in names.items():
            if name == "b1":  # before a batch norm: its true gradient is 0, Adam follows the noise
                close(p.data, ref[name], f"{name} after step {t}", rtol=0, atol=1e-8)
            else:
                close(p.data, ref[name], f"{name} after step {t}")
        running_mean = 0.9 * running_mean + 0.1 * cache[2]
        running_var = 0.9 * running_var + 0.1 * cache[3] * 12 / 11
        close(bn.running_mean, running_mean, "running_mean", rtol=0, atol=1e-8)  # it holds b1
        close(bn.running_var, running_var, "running_var")


def test_backward_without_the_input_gradient():
    rng = np.random.default_rng(0)
    X, G = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))

    def make():
        return nn.Sequential(nn.BatchNorm(3, dtype=F64), nn.Dense(3, 2, rng=0, dtype=F64))

    a, b = make(), make()
    a.forward(X)
    b.forward(X)
    assert a.backward(G).shape == X.shape
    assert b.backward(G, input_grad=False) is None
    for p, q in zip(a.parameters(), b.parameters()):
        close(p.grad, q.grad)

    class Scale(nn.Module):  # a learner's own module, whose backward has no input_grad
        def forward(self, X):
            return 2 * X

        def backward(self, dout):
            return 2 * dout

    c = nn.Sequential(Scale(), nn.Dense(3, 2, rng=0, dtype=F64))
    c.forward(X)
    assert c.backward(G, input_grad=False) is None
    close(c[1].W.grad, (2 * X).T @ G)


# =============================================================== float32 stays float32

def test_float32_stays_float32_end_to_end():
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Dense(8, 16, rng=0), nn.BatchNorm(16), nn.ReLU(), nn.Dropout(0.2, rng=1),
                          nn.Dense(16, 16, rng=2), nn.Tanh(), nn.Dense(16, 16, rng=3), nn.Sigmoid(),
                          nn.Dense(16, 3, rng=4))
    criterion = nn.CrossEntropyLoss()
    X, y = rng.normal(size=(10, 8)).astype(F32), rng.integers(0, 3, size=10)
    for make in MAKERS.values():
        opt = make(model.parameters())
        for _ in range(2):
            opt.zero_grad()
            A = X
            for m in model.modules:
                A = m.forward(A)
                assert A.dtype == F32, f"{m!r} forward gave {A.dtype}"
            criterion(A, y)
            dout = criterion.backward()
            assert dout.dtype == F32
            for m in reversed(model.modules):
                dout = m.backward(dout)
                assert dout.dtype == F32, f"{m!r} backward gave {dout.dtype}"
            opt.step()
        states = [getattr(opt, name, []) for name in ("velocities", "m", "v")]
        for p in model.parameters():
            assert p.data.dtype == F32 and p.grad.dtype == F32, p
        for state in states:
            assert all(s.dtype == F32 for s in state)
        for bn in model.modules[1:2]:
            assert bn.running_mean.dtype == F32 and bn.running_var.dtype == F32
        assert all(b.dtype == F32 for bs in opt._pieces._buffers.values() for b in bs)
    model.eval()
    assert model.forward(X).dtype == F32


def test_fit_keeps_float32_and_learns():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5)).astype(F32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    model = nn.Sequential(nn.Dense(5, 16, rng=0), nn.BatchNorm(16), nn.ReLU(), nn.Dropout(0.1, rng=1),
                          nn.Dense(16, 2, rng=2))
    opt = optim.Adam(model.parameters(), lr=1e-2)
    history = fit(model, X, y, opt, epochs=10, batch_size=32, rng=0, progress=False)
    assert history.accuracy[-1] > 0.9
    assert all(p.data.dtype == F32 and p.grad.dtype == F32 for p in model.parameters())
    assert all(s.dtype == F32 for s in opt.m + opt.v)


@pytest.mark.parametrize("fn, args", [
    (_fast.dense_forward, lambda r: (r(4, 3), r(3, 2), r(2))),
    (_fast.relu_forward, lambda r: (r(4, 3),)),
    (_fast.sigmoid_forward, lambda r: (r(4, 3),)),
    (_fast.tanh_forward, lambda r: (r(4, 3),)),
    (_fast.relu_backward, lambda r: (r(4, 3), r(4, 3))),
    (_fast.sigmoid_backward, lambda r: (r(4, 3), r(4, 3))),
    (_fast.tanh_backward, lambda r: (r(4, 3), r(4, 3))),
    (_fast.batchnorm_forward, lambda r: (r(4, 3), r(3), r(3), 1e-5)),
    (_fast.batchnorm_eval_forward, lambda r: (r(4, 3), r(3), r(3), r(3), abs(r(3)), 1e-5)),
    (_fast.softmax_cross_entropy, lambda r: (r(4, 3), np.array([0, 2, 1, 1]))),
    (_fast.column_sums, lambda r: (r(4, 3),)),
], ids=lambda x: getattr(x, "__name__", ""))
def test_fast_functions_return_float32_for_float32(fn, args):
    rng = np.random.default_rng(0)
    arrays = args(lambda *shape: rng.normal(size=shape).astype(F32))
    result = fn(*arrays)

    def walk(x):
        if isinstance(x, np.ndarray):
            assert x.dtype == F32, f"{fn.__name__} gave {x.dtype}"
        elif isinstance(x, (tuple, list)):
            for item in x:
                walk(item)

    walk(result)
