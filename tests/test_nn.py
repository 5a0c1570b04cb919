"""bpcourse.nn: gradient checks of modules and of a full network, BatchNorm running statistics,
Dropout, Dense initialization, errors, parameters, train/eval and dtypes."""

import numpy as np
import pytest

from bpcourse import gradcheck, nn
from bpcourse.losses import softmax_cross_entropy

from helpers import (
    D, DTYPES, M, N, SEEDS, assert_gradient, assert_gradient_independently, call_pure, upstream,
)

F64 = np.float64


# =============================================================== gradient-check machinery

def _analytic(model, X, head, reset=lambda: None):
    """zero_grad, forward, head(out) -> (loss, dout), backward: (dX, [param grads])."""
    model.zero_grad()
    reset()
    loss, dout = head(model.forward(X))
    dX = model.backward(dout)
    return dX, [p.grad.copy() for p in model.parameters()]


def _loss_of_input(model, head, reset=lambda: None):
    def L(X):
        reset()
        return head(model.forward(X))[0]
    return L


def _loss_of_param(model, param, X, head, reset=lambda: None):
    """The loss as a function of one parameter's values (the module reads ``param.data``)."""
    def L(values):
        saved = param.data
        param.data = values
        try:
            reset()
            return head(model.forward(X))[0]
        finally:
            param.data = saved
    return L


def _gradcheck_module(model, X, head, reset=lambda: None, zero_grad_params=()):
    """Gradient-check dX and every parameter; a parameter in ``zero_grad_params`` has a true
    gradient of exactly 0 (a relative error means nothing there: check it is ~0 on both sides)."""
    dX, grads = _analytic(model, X, head, reset)
    assert_gradient(dX, _loss_of_input(model, head, reset), X, "dX")
    for p, g in zip(model.parameters(), grads):
        f = _loss_of_param(model, p, X, head, reset)
        if any(p is z for z in zero_grad_params):
            np.testing.assert_allclose(g, 0, atol=1e-12)
            np.testing.assert_allclose(gradcheck.numerical_gradient(f, p.data), 0, atol=1e-9)
        else:
            assert_gradient(g, f, p.data, f"d{p.name}")


def _dot_head(G):
    """L = Σ out · G: the loss whose gradient w.r.t. out is the upstream gradient G."""
    return lambda out: (float(np.sum(out * G)), G)


def _randomize(bn, rng):
    """Non-trivial gamma and beta (not 1 and 0)."""
    d = bn.num_features
    bn.gamma.data[...] = rng.uniform(0.5, 2, size=d) * rng.choice([-1.0, 1.0], size=d)
    bn.beta.data[...] = rng.normal(size=d)


# =============================================================== gradient checks (float64)

@pytest.mark.parametrize("seed", SEEDS)
def test_dense_module_gradcheck(seed):
    rng = np.random.default_rng(seed)
    layer = nn.Dense(D, M, rng=seed, dtype=F64)
    layer.b.data[...] = rng.normal(size=M)
    _gradcheck_module(layer, rng.normal(size=(N, D)), _dot_head(upstream(rng, (N, M))))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_batchnorm_module_gradcheck(mode, seed):
    rng = np.random.default_rng(seed)
    bn = nn.BatchNorm(D, dtype=F64)
    _randomize(bn, rng)
    bn.running_mean[...] = rng.normal(size=D)
    bn.running_var[...] = rng.uniform(0.5, 2, size=D)
    if mode == "eval":
        bn.eval()
    X = rng.normal(size=(N, D)) * 2 + 1
    _gradcheck_module(bn, X, _dot_head(upstream(rng, (N, D))))


@pytest.mark.parametrize("seed", SEEDS)
def test_smooth_network_gradcheck(seed):
    rng = np.random.default_rng(seed)
    model = nn.Sequential(nn.Dense(D, 6, rng=seed, dtype=F64), nn.Tanh(),
                          nn.Dense(6, M, rng=seed + 10, init="xavier", dtype=F64), nn.Sigmoid())
    _gradcheck_module(model, rng.normal(size=(N, D)), _dot_head(upstream(rng, (N, M))))


def _network(seed, p=0.3):
    rng = np.random.default_rng(seed)
    model = nn.Sequential(
        nn.Dense(D, 7, rng=seed, dtype=F64),
        nn.BatchNorm(7, dtype=F64),
        nn.ReLU(),
        nn.Dropout(p),
        nn.Dense(7, M, rng=seed + 100, dtype=F64),
    )
    model[0].b.data[...] = rng.normal(size=7) * 0.1
    model[4].b.data[...] = rng.normal(size=M) * 0.1
    _randomize(model[1], rng)
    X = rng.normal(size=(N + 1, D))
    y = rng.integers(0, M, size=N + 1)

    def reset():  # the same dropout mask for every forward pass
        model[3].rng = np.random.default_rng(1000 + seed)

    return model, X, y, reset


@pytest.mark.parametrize("seed", SEEDS)
def test_full_network_with_softmax_cross_entropy_gradcheck(seed):
    """Dense-BatchNorm-ReLU-Dropout-Dense + softmax cross-entropy, every parameter and the input."""
    model, X, y, reset = _network(seed)
    head = lambda Z: softmax_cross_entropy(Z, y)  # noqa: E731
    # the check is valid only away from the ReLU kink: no pre-activation within 1e-3 of 0
    pre = model[1].forward(model[0].forward(X))
    assert np.abs(pre).min() > 1e-3, "pick another seed: a ReLU input sits on the kink"
    reset()
    dropped = model[3].forward(np.ones((N + 1, 7))) == 0
    assert dropped.any() and not dropped.all()
    # a bias just before a batch norm cancels out (the batch mean absorbs it): its gradient is 0
    _gradcheck_module(model, X, head, reset, zero_grad_params=[model[0].b])


@pytest.mark.parametrize("seed", SEEDS)
def test_full_network_independent_gradcheck_of_the_input(seed):
    model, X, y, reset = _network(seed)
    head = lambda Z: softmax_cross_entropy(Z, y)  # noqa: E731
    dX, grads = _analytic(model, X, head, reset)
    assert_gradient_independently(dX, _loss_of_input(model, head, reset), X, "dX")
    W = model[0].W
    assert_gradient_independently(grads[0], _loss_of_param(model, W, X, head, reset), W.data, "dW0")


# =============================================================== BatchNorm statistics

def test_batchnorm_running_statistics_follow_pytorch():
    rng = np.random.default_rng(0)
    bn = nn.BatchNorm(D, dtype=F64)
    assert bn.momentum == 0.1 and bn.eps == 1e-5
    np.testing.assert_array_equal(bn.running_mean, np.zeros(D))
    np.testing.assert_array_equal(bn.running_var, np.ones(D))
    _randomize(bn, rng)
    rm, rv = np.zeros(D), np.ones(D)
    for n in (8, 5, 3):
        X = rng.normal(size=(n, D)) * 3 + 2
        bn.forward(X)
        mean = X.sum(axis=0) / n
        unbiased_var = ((X - mean) ** 2).sum(axis=0) / (n - 1)
        rm = 0.9 * rm + 0.1 * mean
        rv = 0.9 * rv + 0.1 * unbiased_var
        np.testing.assert_allclose(bn.running_mean, rm, rtol=1e-13)
        np.testing.assert_allclose(bn.running_var, rv, rtol=1e-13)
    # eval mode: the running statistics, not the batch's, and they are not updated
    bn.eval()
    Xe = rng.normal(size=(6, D)) * 5
    out = bn.forward(Xe)
    expected = bn.gamma.data * (Xe - rm) / np.sqrt(rv + 1e-5) + bn.beta.data
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bn.running_mean, rm, rtol=1e-13)
    np.testing.assert_allclose(bn.running_var, rv, rtol=1e-13)
    # each example is normalized on its own in eval mode: a batch of one works and agrees
    np.testing.assert_allclose(bn.forward(Xe[2:3]), expected[2:3], rtol=1e-12, atol=1e-12)


def test_batchnorm_custom_momentum():
    bn = nn.BatchNorm(2, momentum=0.3, dtype=F64)
    X = np.array([[0.0, 1.0], [2.0, 5.0], [4.0, 3.0]])
    bn.forward(X)
    # batch mean (2, 3), unbiased variance (4, 4)
    np.testing.assert_allclose(bn.running_mean, [0.6, 0.9], rtol=1e-14)
    np.testing.assert_allclose(bn.running_var, [0.7 + 1.2, 0.7 + 1.2], rtol=1e-14)


def test_batchnorm_train_mode_standardizes_the_batch():
    X = np.random.default_rng(0).normal(size=(50, 3)) * [1, 10, 100] + [5, -5, 50]
    out = nn.BatchNorm(3, dtype=F64).forward(X)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=0), 1, atol=1e-4)


def test_batchnorm_training_with_a_batch_of_one():
    bn = nn.BatchNorm(3)
    with pytest.raises(ValueError, match=r"BatchNorm\(3\) in training mode needs at least 2 examples "
                                         r"per batch.*got 1.*model\.eval\(\)"):
        bn.forward(np.ones((1, 3)))


# =============================================================== Dropout

def test_dropout_is_the_identity_in_eval_mode():
    X = np.random.default_rng(0).normal(size=(20, 10))
    drop = nn.Dropout(0.9, rng=0).eval()
    np.testing.assert_array_equal(drop.forward(X), X)
    G = np.random.default_rng(1).normal(size=X.shape)
    np.testing.assert_array_equal(drop.backward(G), G)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.75])
def test_dropout_train_mode_drops_about_p(p):
    X = np.random.default_rng(0).uniform(0.5, 1.5, size=(300, 100))
    drop = nn.Dropout(p, rng=1)
    assert drop.training
    out = drop.forward(X)
    n = X.size
    dropped = np.count_nonzero(out == 0)
    assert abs(dropped - n * p) <= 5 * np.sqrt(n * p * (1 - p))
    kept = out != 0
    np.testing.assert_allclose(out[kept], X[kept] / (1 - p), rtol=1e-14)
    G = np.random.default_rng(2).normal(size=X.shape)
    dX = drop.backward(G)
    assert np.all(dX[~kept] == 0)
    np.testing.assert_allclose(dX[kept], G[kept] / (1 - p), rtol=1e-14)


def test_dropout_seeded_and_advancing():
    X = np.ones((30, 30))
    a, b = nn.Dropout(0.5, rng=7), nn.Dropout(0.5, rng=7)
    first = a.forward(X)
    np.testing.assert_array_equal(first, b.forward(X))  # same seed, same masks
    assert not np.array_equal(first, a.forward(X))  # a new mask on every call
    g = np.random.default_rng(7)
    np.testing.assert_array_equal(nn.Dropout(0.5, rng=g).forward(X),
                                  nn.Dropout(0.5, rng=np.random.default_rng(7)).forward(X))


def test_dropout_bad_arguments():
    with pytest.raises(ValueError, match=r"Dropout: p is the probability of dropping a unit, in \[0, 1\]"):
        nn.Dropout(1.5)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator or an int seed, got RandomState"):
        nn.Dropout(0.5, rng=np.random.RandomState(0))


# =============================================================== Dense

@pytest.mark.parametrize("init, fan", [("he", lambda i, o: 2 / i), ("xavier", lambda i, o: 2 / (i + o))])
def test_dense_initialization_scale(init, fan):
    i, o = 800, 500
    layer = nn.Dense(i, o, rng=0, init=init)
    W = layer.W.data.astype(np.float64)
    std = np.sqrt(fan(i, o))
    assert W.shape == (i, o)
    assert abs(W.std() / std - 1) < 0.01  # 4e5 samples: the sample std is within ~0.1%
    assert abs(W.mean()) < 5 * std / np.sqrt(W.size)
    np.testing.assert_array_equal(layer.b.data, np.zeros(o))


def test_dense_default_init_is_he():
    W = nn.Dense(1000, 300, rng=1).W.data
    assert abs(W.std() / np.sqrt(2 / 1000) - 1) < 0.01


def test_dense_seeded_determinism():
    a, b = nn.Dense(6, 4, rng=3), nn.Dense(6, 4, rng=3)
    np.testing.assert_array_equal(a.W.data, b.W.data)
    assert not np.array_equal(a.W.data, nn.Dense(6, 4, rng=4).W.data)
    np.testing.assert_array_equal(nn.Dense(6, 4, rng=np.random.default_rng(3)).W.data, a.W.data)
    assert not np.array_equal(nn.Dense(6, 4).W.data, nn.Dense(6, 4).W.data)  # fresh seeds


def test_dense_forward_value():
    rng = np.random.default_rng(0)
    layer = nn.Dense(D, M, rng=0, dtype=F64)
    layer.b.data[...] = rng.normal(size=M)
    X = rng.normal(size=(N, D))
    np.testing.assert_allclose(layer(X), np.einsum("nd,dm->nm", X, layer.W.data) + layer.b.data,
                               rtol=1e-13)


def test_dense_wrong_number_of_features_names_both():
    with pytest.raises(ValueError, match=r"Dense\(64, 10\) expects .*64.* got 63") as info:
        nn.Dense(64, 10, rng=0).forward(np.zeros((8, 63)))
    assert "64" in str(info.value) and "63" in str(info.value)
    with pytest.raises(ValueError, match=r"expects input of shape \(N, 64\), got shape \(64,\)"):
        nn.Dense(64, 10, rng=0).forward(np.zeros(64))


def test_dense_bad_constructor_arguments():
    with pytest.raises(ValueError, match="in_features must be a positive integer, got 0"):
        nn.Dense(0, 3)
    with pytest.raises(ValueError, match=r"init must be one of \['he', 'xavier'\], got 'glorot'"):
        nn.Dense(3, 3, init="glorot")


@pytest.mark.parametrize("module", [
    lambda: nn.Dense(3, 2), nn.ReLU, nn.Sigmoid, nn.Tanh, lambda: nn.BatchNorm(3),
    lambda: nn.Dropout(0.5), lambda: nn.Sequential(nn.Dense(3, 2), nn.ReLU()),
], ids=["Dense", "ReLU", "Sigmoid", "Tanh", "BatchNorm", "Dropout", "Sequential"])
def test_backward_before_forward_is_a_clear_error(module):
    with pytest.raises(RuntimeError, match=r"backward\(\) was called before forward\(\)"):
        module().backward(np.ones((4, 2)))


def test_cross_entropy_loss_module():
    crit = nn.CrossEntropyLoss()
    with pytest.raises(RuntimeError, match=r"backward\(\) was called before the loss was computed"):
        crit.backward()
    Z, y = np.zeros((2, 4)), np.array([1, 3])
    assert crit(Z, y) == pytest.approx(np.log(4), rel=1e-15)
    np.testing.assert_allclose(crit.backward(), (np.full((2, 4), 0.25) - np.eye(4)[y]) / 2, rtol=1e-15)


# =============================================================== parameters, train/eval, Sequential

def test_parameters_lists():
    dense, bn = nn.Dense(3, 4), nn.BatchNorm(4)
    assert dense.parameters() == [dense.W, dense.b]
    assert [p.shape for p in dense.parameters()] == [(3, 4), (4,)]
    assert bn.parameters() == [bn.gamma, bn.beta]
    for m in (nn.ReLU(), nn.Sigmoid(), nn.Tanh(), nn.Dropout()):
        assert m.parameters() == []
    d2 = nn.Dense(4, 2)
    model = nn.Sequential(dense, bn, nn.ReLU(), nn.Dropout(), d2)
    params = model.parameters()
    assert len(params) == 6
    assert all(a is b for a, b in zip(params, [dense.W, dense.b, bn.gamma, bn.beta, d2.W, d2.b]))
    assert all(isinstance(p, nn.Parameter) and p.grad.shape == p.data.shape for p in params)
    assert len(model) == 5 and model[1] is bn


def test_train_and_eval_propagate_through_sequential():
    inner = nn.Sequential(nn.BatchNorm(3), nn.Dropout(0.5))
    model = nn.Sequential(nn.Dense(3, 3), inner, nn.ReLU())
    everything = [model, *model.modules, *inner.modules]
    assert all(m.training for m in everything)
    assert model.eval() is model
    assert not any(m.training for m in everything)
    assert model.train() is model
    assert all(m.training for m in everything)
    model.train(False)
    assert not any(m.training for m in everything)


def test_eval_mode_changes_behaviour_of_a_network():
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Dense(4, 8, rng=0, dtype=F64), nn.BatchNorm(8, dtype=F64),
                          nn.Dropout(0.5, rng=0))
    X = rng.normal(size=(10, 4))
    for _ in range(3):
        model.forward(X)  # updates the running statistics
    model.eval()
    a, b = model.forward(X), model.forward(X)
    np.testing.assert_array_equal(a, b)  # deterministic: no dropout, fixed statistics
    bn = model[1]
    Z = model[0].forward(X)
    expected = (Z - bn.running_mean) / np.sqrt(bn.running_var + bn.eps)
    np.testing.assert_allclose(a, expected, rtol=1e-12, atol=1e-12)


def test_sequential_rejects_non_modules():
    with pytest.raises(TypeError, match="Sequential: item 1 is a str, not a bpcourse.nn module"):
        nn.Sequential(nn.ReLU(), "relu")


# =============================================================== dtypes and purity

def _net(dtype=None):
    kw = {} if dtype is None else {"dtype": dtype}
    return nn.Sequential(nn.Dense(D, 6, rng=0, **kw), nn.BatchNorm(6, **kw), nn.ReLU(),
                         nn.Dropout(0.3, rng=0), nn.Dense(6, M, rng=1, **kw), nn.Sigmoid(), nn.Tanh())


def test_default_dtype_is_float32():
    model = _net()
    assert all(p.data.dtype == np.float32 and p.grad.dtype == np.float32 for p in model.parameters())
    assert model[1].running_mean.dtype == np.float32 and model[1].running_var.dtype == np.float32
    X = np.random.default_rng(0).normal(size=(N, D))  # float64 input is cast to the model's dtype
    out = model.forward(X)
    assert out.dtype == np.float32
    dX = model.backward(np.ones_like(out))
    assert dX.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in model.parameters())
    assert model[1].running_var.dtype == np.float32


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_network_keeps_its_dtype(dtype, mode):
    model = _net(dtype)
    if mode == "eval":
        model.eval()
    X = np.random.default_rng(0).normal(size=(N, D)).astype(dtype)
    out = model.forward(X)
    assert out.dtype == dtype
    assert model.backward(np.ones_like(out)).dtype == dtype
    assert all(p.data.dtype == dtype and p.grad.dtype == dtype for p in model.parameters())


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_modules_do_not_modify_inputs_or_upstream_gradients(mode):
    rng = np.random.default_rng(0)
    for module, d_in, d_out in [(nn.Dense(D, M, rng=0, dtype=F64), D, M), (nn.ReLU(), D, D),
                                (nn.Sigmoid(), D, D), (nn.Tanh(), D, D),
                                (nn.BatchNorm(D, dtype=F64), D, D), (nn.Dropout(0.5, rng=0), D, D)]:
        module.train(mode == "train")
        X = rng.normal(size=(N, d_in))
        X[0, 0] = 0.0
        call_pure(module.forward, X)
        call_pure(module.backward, rng.normal(size=(N, d_out)))
