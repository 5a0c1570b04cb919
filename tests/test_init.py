"""bpcourse.init and bpcourse.diagnostics (notebook 11): He and Xavier initialization against
their definitions, the variance they are derived to keep, and the update-to-data ratio
against its definition, in float64."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpcourse import nn
from bpcourse.diagnostics import update_ratios
from bpcourse.init import he_init, xavier_init
from bpcourse.network import init_mlp, mlp_backward, mlp_forward
from bpcourse.losses import softmax_cross_entropy

PLAIN = {"batchnorm": False, "dropout": 0.0}


# ====================================================================== the draws

@pytest.mark.parametrize("init, variance", [(he_init, lambda D, M: 2 / D),
                                            (xavier_init, lambda D, M: 2 / (D + M))],
                         ids=["he", "xavier"])
def test_the_draw_is_the_documented_one(init, variance):
    for D, M, dtype in ((7, 3, np.float64), (40, 90, np.float32)):
        W = init(D, M, np.random.default_rng(5), dtype)
        expected = np.random.default_rng(5).normal(0.0, math.sqrt(variance(D, M)), size=(D, M))
        assert W.shape == (D, M) and W.dtype == dtype
        np.testing.assert_array_equal(W, expected.astype(dtype))


@pytest.mark.parametrize("init, variance", [(he_init, lambda D, M: 2 / D),
                                            (xavier_init, lambda D, M: 2 / (D + M))],
                         ids=["he", "xavier"])
def test_sample_variance_is_the_published_one(init, variance):
    D, M = 400, 300
    W = init(D, M, np.random.default_rng(0), np.float64)
    n = W.size
    assert abs(W.mean()) < 5 * math.sqrt(variance(D, M) / n)
    # the sample variance of n normal draws has a relative standard error √(2/n)
    assert abs(W.var() / variance(D, M) - 1) < 5 * math.sqrt(2 / n)


def test_default_dtype_is_float32_and_a_seed_works_like_a_generator():
    W = he_init(6, 4, 3)
    assert W.dtype == np.float32
    np.testing.assert_array_equal(W, he_init(6, 4, np.random.default_rng(3)))
    assert he_init(6, 4, np.random.default_rng(3), "float64").dtype == np.float64


def test_the_generator_is_used_and_advanced():
    rng = np.random.default_rng(1)
    first, second = he_init(5, 5, rng), he_init(5, 5, rng)
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("args, words", [
    ((0, 3, 1), "fan_in must be a positive integer"),
    ((3, 2.5, 1), "fan_out must be a positive integer"),
    ((True, 3, 1), "fan_in must be a positive integer"),
    ((3, 3, "seed"), "rng must be a numpy Generator"),
    ((3, 3, 1, np.int32), "dtype must be np.float32 or np.float64"),
    ((3, 3, 1, "banana"), "dtype must be np.float32 or np.float64"),
])
def test_bad_arguments_get_clear_messages(args, words):
    with pytest.raises((TypeError, ValueError), match=words):
        he_init(*args)


def test_nn_dense_and_init_mlp_draw_what_he_init_and_xavier_init_draw():
    """One source of truth: the model API and the network of notebook 10 initialize exactly as
    the functions notebook 11 derives (the same seed, the same weights)."""
    np.testing.assert_array_equal(nn.Dense(12, 7, rng=4).W.data,
                                  he_init(12, 7, np.random.default_rng(4)))
    np.testing.assert_array_equal(nn.Dense(12, 7, rng=4, init="xavier").W.data,
                                  xavier_init(12, 7, np.random.default_rng(4)))
    params = init_mlp([9, 6, 5, 3], PLAIN, rng=2, dtype=np.float64)
    rng = np.random.default_rng(2)
    np.testing.assert_array_equal(params["W1"], he_init(9, 6, rng, np.float64))
    np.testing.assert_array_equal(params["W2"], he_init(6, 5, rng, np.float64))


def _deep_relu_second_moments(init, depth=8, width=400, N=300, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(N, width))
    moments = []
    for _ in range(depth):
        Z = A @ init(width, width, rng, np.float64)
        moments.append(np.mean(Z * Z))
        A = np.maximum(Z, 0)
    return np.array(moments)


def test_he_keeps_the_variance_of_a_deep_relu_network_and_lecun_halves_it():
    """What He initialization is derived for: Var(Z_l) = D · Var(W) · Var(Z_{l-1}) / 2."""
    he = _deep_relu_second_moments(he_init)
    lecun = _deep_relu_second_moments(lambda D, M, rng, dtype: he_init(D, M, rng, dtype) / math.sqrt(2))
    per_layer_he = (he[-1] / he[0]) ** (1 / (len(he) - 1))
    per_layer_lecun = (lecun[-1] / lecun[0]) ** (1 / (len(lecun) - 1))
    assert abs(he[0] / 2 - 1) < 0.03          # the first layer's input is N(0, 1), not a ReLU's
    assert abs(per_layer_he - 1) < 0.03
    assert abs(per_layer_lecun - 0.5) < 0.015


def test_the_variance_of_a_dense_layer_is_d_var_w_mean_square_x():
    """Var(Z) = D · Var(W) · E[X²] with inputs of non-zero mean (E[X²] ≠ Var(X))."""
    rng = np.random.default_rng(0)
    D = 50
    X = rng.uniform(0, 1, size=(200, D))         # mean 1/2: E[X²] = 1/3, Var(X) = 1/12
    W = rng.normal(0, 0.3, size=(D, 20000))
    Z = X @ W
    predicted = D * 0.09 * np.mean(X * X)
    assert abs(np.mean(Z * Z) / predicted - 1) < 0.03
    assert np.mean(Z * Z) / (D * 0.09 * X.var()) > 3.5


# ====================================================================== update ratios

def _network(seed, sizes=(6, 8, 5, 3), dtype=np.float64, batchnorm=False):
    config = {"batchnorm": batchnorm, "dropout": 0.0}
    rng = np.random.default_rng(seed)
    params = init_mlp(list(sizes), config, rng, dtype=dtype)
    X, y = rng.normal(size=(10, sizes[0])).astype(dtype), rng.integers(0, sizes[-1], 10)
    logits, caches = mlp_forward(X, params, config)
    return params, mlp_backward(softmax_cross_entropy(logits, y)[1], caches)


def test_update_ratios_against_the_definition():
    params, grads = _network(0)
    got = update_ratios(params, grads, 0.05)
    assert list(got) == ["W1", "W2", "W3"]
    for key, ratio in got.items():
        W, dW = params[key], grads[key]
        expected = 0.05 * math.sqrt(np.sum(dW ** 2)) / math.sqrt(np.sum(W ** 2))
        assert type(ratio) is float and ratio == pytest.approx(expected, rel=1e-12)


def test_update_ratios_is_the_relative_size_of_an_sgd_step():
    """‖W_new − W‖ / ‖W‖ for W_new = W − lr·dW: what the ratio stands for."""
    params, grads = _network(1)
    lr = 0.3
    for key, ratio in update_ratios(params, grads, lr).items():
        step = (params[key] - lr * grads[key]) - params[key]
        assert ratio == pytest.approx(np.linalg.norm(step) / np.linalg.norm(params[key]), rel=1e-9)


def test_update_ratios_skips_batchnorm_parameters_and_buffers_and_works_in_float32():
    params, grads = _network(2, dtype=np.float32, batchnorm=True)
    got = update_ratios(params, grads, 0.01)
    assert list(got) == ["W1", "W2", "W3"]
    p64 = {k: v.astype(np.float64) for k, v in params.items()}
    g64 = {k: v.astype(np.float64) for k, v in grads.items()}
    for key, ratio in update_ratios(p64, g64, 0.01).items():
        assert got[key] == pytest.approx(ratio, rel=1e-6)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.floats(1e-4, 10.0), st.floats(-100.0, 100.0).filter(lambda c: abs(c) > 1e-3),
       st.floats(1e-3, 1e3))
def test_update_ratio_properties(seed, lr, c, scale):
    """Linear in lr and in the gradient, invariant when W and dW scale together, and lr·|c|
    when dW = c·W."""
    rng = np.random.default_rng(seed)
    W = {"W1": rng.normal(size=(3, 4)), "W2": rng.normal(size=(4, 2))}
    dW = {"W1": rng.normal(size=(3, 4)), "W2": rng.normal(size=(4, 2))}
    base = update_ratios(W, dW, lr)
    twice = update_ratios(W, dW, 2 * lr)
    scaled = update_ratios({k: scale * v for k, v in W.items()}, {k: scale * v for k, v in dW.items()}, lr)
    along = update_ratios(W, {k: c * v for k, v in W.items()}, lr)
    for key in W:
        assert twice[key] == pytest.approx(2 * base[key], rel=1e-12)
        assert scaled[key] == pytest.approx(base[key], rel=1e-9)
        assert along[key] == pytest.approx(lr * abs(c), rel=1e-12)


@pytest.mark.parametrize("params, grads, lr, words", [
    ({"W1": np.ones((2, 2))}, {"W1": np.ones((2, 2))}, 0, "lr must be a positive number"),
    ({"W1": np.ones((2, 2))}, {}, 0.1, "grads has no gradient for W1"),
    ({"b1": np.ones(2)}, {"b1": np.ones(2)}, 0.1, "no weight matrix"),
    ({"W1": np.zeros((2, 2))}, {"W1": np.ones((2, 2))}, 0.1, "all zeros"),
    ({"W1": np.ones((2, 2))}, {"W1": np.ones((2, 3))}, 0.1, "must have the shape"),
    ([np.ones((2, 2))], {}, 0.1, "must be dicts"),
])
def test_update_ratios_bad_input(params, grads, lr, words):
    with pytest.raises((TypeError, ValueError), match=words):
        update_ratios(params, grads, lr)


# ====================================================================== PyTorch (optional)

def test_the_pytorch_facts_the_notebook_states():
    """nn.Linear's default init is U(±1/√in_features) for weight and bias (variance 1/(3D));
    kaiming_normal_ (mode fan_in) has he_init's std, xavier_normal_ xavier_init's; the gain
    for tanh is 5/3.  PyTorch is optional: without it this test is skipped, and says so."""
    torch = pytest.importorskip("torch", reason="PyTorch is optional (pip install torch)")
    torch.manual_seed(0)
    D, M = 300, 200
    lin = torch.nn.Linear(D, M)
    assert tuple(lin.weight.shape) == (M, D)                       # (out, in)
    bound = 1 / math.sqrt(D)
    assert lin.weight.abs().max().item() <= bound and lin.weight.abs().max().item() > 0.99 * bound
    assert lin.bias.abs().max().item() <= bound
    n = D * M
    assert abs(lin.weight.double().var().item() * 3 * D - 1) < 5 * math.sqrt(0.8 / n)
    w = torch.empty(M, D, dtype=torch.float64)
    torch.nn.init.kaiming_normal_(w)
    ours = he_init(D, M, np.random.default_rng(0), np.float64)
    assert abs(w.std().item() / ours.std() - 1) < 10 / math.sqrt(2 * n)
    torch.nn.init.xavier_normal_(w)
    ours = xavier_init(D, M, np.random.default_rng(0), np.float64)
    assert abs(w.std().item() / ours.std() - 1) < 10 / math.sqrt(2 * n)
    assert torch.nn.init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert torch.nn.init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
