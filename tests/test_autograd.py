"""bpcourse.autograd, the reference of notebook 13: the tape's gradients are mlp_backward's on a
chain, numerical gradients' on graphs with shared tensors, and torch.autograd's (when installed)."""

import numpy as np
import pytest

from bpcourse import autograd as ag, network as net
from helpers import assert_gradient


def _params(sizes, config, seed=0):
    g = np.random.default_rng(seed)
    p = net.init_mlp(sizes, config, rng=g, dtype=np.float64, last_scale=1.0)
    # non-zero biases: no pre-activation sits exactly on ReLU's kink
    return {k: v + 0.2 * g.normal(size=v.shape) if k.startswith(("b", "beta")) else v
            for k, v in p.items()}


@pytest.mark.parametrize("config", [{"batchnorm": True, "dropout": 0.3},
                                    {"batchnorm": False, "dropout": 0.0}])
def test_on_a_chain_the_tape_gives_exactly_mlp_backward(config):
    p = _params([5, 7, 6, 3], config)
    g = np.random.default_rng(1)
    X, y = g.normal(size=(9, 5)), g.integers(0, 3, 9)
    loss, grads = ag.autograd_grads(X, y, p, config, np.random.default_rng(4))
    logits, caches = net.mlp_forward(X, p, config, np.random.default_rng(4))
    loss2, dlogits = net.softmax_cross_entropy(logits, y)
    expected = net.mlp_backward(dlogits, caches)
    assert loss == loss2 and set(grads) == set(expected)
    assert all(np.array_equal(grads[k], expected[k]) for k in expected)


@pytest.mark.parametrize("config", [
    {"batchnorm": False, "dropout": 0.2, "tied": True},
    {"batchnorm": True, "dropout": 0.0, "residual": True},
    {"batchnorm": False, "dropout": 0.1, "tied": True, "residual": True},
], ids=["tied", "residual", "tied+residual"])
def test_shared_tensors_collect_the_sum_of_their_gradients(config):
    p = _params([4, 5, 5, 5, 3], config, seed=2)
    g = np.random.default_rng(3)
    X, y = g.normal(size=(6, 4)), g.integers(0, 3, 6)
    _, grads = ag.autograd_grads(X, y, p, config, np.random.default_rng(5))
    if config.get("tied"):
        assert "W3" not in grads and "b3" not in grads          # unused: W2 serves layer 3
    for key, grad in grads.items():
        def f(x, key=key):
            return ag.autograd_grads(X, y, {**p, key: x}, config, np.random.default_rng(5))[0]
        if config["batchnorm"] and key in ("b1", "b2", "b3"):
            assert np.abs(grad).max() < 1e-12                     # before batch norm: exactly 0
            continue
        assert_gradient(grad, f, p[key].copy(), key)


def test_backward_twice_gives_the_same_gradients_and_an_add_doubles():
    tape = ag.Tape()
    (x,) = ag.parameters({"x": np.array([[1.0, -2.0]])}, tape).values()
    y = (x + x).softmax_ce(np.array([1]))
    y.backward()
    once = x.grad.copy()
    y.backward()
    assert np.array_equal(x.grad, once)
    P = np.exp(2 * x.data) / np.exp(2 * x.data).sum()
    assert np.allclose(once, 2 * (P - np.array([[0.0, 1.0]])))   # d/dx of L(2x) = 2 L'(2x)


def test_an_unknown_op_on_a_tape_is_named():
    with pytest.raises(ValueError, match="unknown op 'conv'"):
        ag.tape_backward([("conv", ("x",), "y", None)], "y", 1.0)


def test_the_tape_agrees_with_torch_autograd():
    torch = pytest.importorskip("torch", reason="PyTorch is optional: install torch==2.13.0 to "
                                                "compare with torch.autograd")
    config = {"batchnorm": True, "dropout": 0.0, "residual": True}
    p = _params([6, 6, 6, 3], config, seed=7)
    g = np.random.default_rng(8)
    X, y = g.normal(size=(8, 6)), g.integers(0, 3, 8)
    _, ours = ag.autograd_grads(X, y, p, config)
    T = {k: torch.tensor(v, requires_grad=True) for k, v in p.items() if not k.startswith("running_")}
    A = torch.tensor(X)
    for l in (1, 2):
        Z = A @ T[f"W{l}"] + T[f"b{l}"]
        Z = (Z - Z.mean(0)) / torch.sqrt(Z.var(0, unbiased=False) + 1e-5) * T[f"gamma{l}"] + T[f"beta{l}"]
        A = A + torch.relu(Z)
    torch.nn.functional.cross_entropy(A @ T["W3"] + T["b3"], torch.tensor(y)).backward()
    for key, grad in ours.items():
        np.testing.assert_allclose(grad, T[key].grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=key)
