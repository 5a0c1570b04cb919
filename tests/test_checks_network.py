"""The whole-network exercises (notebooks 5 and 10), the staged batch-norm backward, the
invariant diagnostics of batch norm, and the hints a learner asks for.

Realistic wrong code, written here the way a learner would write it, must fail with the hint
that names its mistake; correct code that differs from the reference must pass.
"""

import numpy as np
import pytest

from bpcourse import layers, network as net
from bpcourse.checks import EXERCISES, hint, run
from bpcourse.checks import hints as hints_module
from bpcourse.checks.registry import reference_functions

REF = reference_functions()
NETWORK = ["two_layer_loss_and_grads", "mlp_forward", "mlp_backward", "train_step", "train_epoch"]


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("BPCOURSE_HOME", str(tmp_path / "bpcourse_home"))
    hints_module._shown.clear()


def hints(rep):
    return [r.hint for r in rep.results if not r.passed and r.hint]


def with_layers(fn):
    """A learner's network function defined where the layer functions are globals, as in a
    notebook (here: the reference layers)."""
    namespace = {"np": np, **{n: REF[n] for n in EXERCISES if n != fn.__name__}}
    return type(fn)(fn.__code__, namespace, fn.__name__, fn.__defaults__, fn.__closure__)


# ====================================================================== the reference math

def test_the_mlp_gradients_match_numerical_gradients_for_every_parameter():
    from helpers import assert_gradient

    rng = np.random.default_rng(3)
    config = {"batchnorm": True, "dropout": 0.25, "lr": 0.01}
    params = net.init_mlp([4, 5, 6, 3], config, rng, dtype=np.float64, last_scale=1.0)
    params.update(gamma1=rng.uniform(0.5, 2, 5), beta2=rng.normal(size=6))
    X, G = rng.normal(size=(7, 4)), rng.normal(size=(7, 3))
    _, caches = net.mlp_forward(X, params, config, np.random.default_rng(9))
    grads = net.mlp_backward(G, caches)
    assert sorted(grads) == sorted(net.trained_keys(params))
    for key in grads:
        if key in ("b1", "b2"):   # biases before batch norm: exactly no effect on the output
            assert np.abs(grads[key]).max() < 1e-12
            continue

        def f(x, key=key):
            trial = dict(params, **{key: x})
            return np.sum(net.mlp_forward(X, trial, config, np.random.default_rng(9))[0] * G)
        assert_gradient(grads[key], f, params[key].copy(), key)


def test_train_step_follows_adam_and_pytorchs_running_statistics():
    rng = np.random.default_rng(0)
    config = {"batchnorm": True, "dropout": 0.0, "lr": 0.05}
    params = net.init_mlp([3, 4, 2], config, rng, dtype=np.float64)
    X, y = rng.normal(size=(6, 3)) * 2 + 1, rng.integers(0, 2, 6)
    state = net.init_adam_state(params)
    new, new_state, loss = net.train_step(params, state, X, y, config)
    # Adam's first step moves every weight by lr·sign(g) (m̂/√v̂ = g/|g|), up to eps
    _, caches = net.mlp_forward(X, params, config)
    grads = net.mlp_backward(net.softmax_cross_entropy(net.mlp_forward(X, params, config)[0], y)[1],
                             caches)
    moved = new["W1"] - params["W1"]
    assert np.allclose(moved, -0.05 * np.sign(grads["W1"]), atol=1e-6)
    Z1 = X @ params["W1"] + params["b1"]
    assert np.allclose(new["running_mean1"], 0.9 * 0 + 0.1 * Z1.mean(0))
    assert np.allclose(new["running_var1"], 0.9 * 1 + 0.1 * Z1.var(0, ddof=1))
    assert new_state["t"] == 1 and state["t"] == 0          # the input state is untouched
    assert all(np.array_equal(params[k], net.init_mlp([3, 4, 2], config, 0, np.float64)[k])
               for k in ("gamma1", "beta1", "running_mean1"))


def test_overfitting_20_examples_reaches_a_tiny_loss():
    from bpcourse.data import load_digits

    (X, y), _ = load_digits(seed=0)
    for config in ({"batchnorm": False, "dropout": 0.0, "lr": 0.01},
                   {"batchnorm": True, "dropout": 0.0, "lr": 0.01}):
        params = net.init_mlp([64, 64, 10], config, 0)
        first = net.evaluate_mlp(params, X[:20], y[:20], config)[0]
        assert abs(first - np.log(10)) < 0.1            # the last layer's small init
        state = net.init_adam_state(params)
        for _ in range(200):
            params, state, loss = net.train_step(params, state, X[:20], y[:20], config)
        assert loss < 0.01, (config, loss)


def test_bad_inputs_get_clear_messages():
    config = {"batchnorm": True, "dropout": 0.1, "lr": 0.1}
    params = net.init_mlp([3, 4, 2], config, 0)
    X = np.zeros((5, 3), np.float32)
    with pytest.raises(ValueError, match="missing .*gamma1"):
        net.mlp_forward(X, {k: v for k, v in params.items() if k != "gamma1"}, config)
    with pytest.raises(ValueError, match="W1, b1, ..., WK"):
        net.mlp_forward(X, {"W2": params["W1"], "b2": params["b1"]}, config)
    with pytest.raises(TypeError, match="config must be a dict"):
        net.mlp_forward(X, params, {"lr": 0.1})
    with pytest.raises(ValueError, match="at least 2 examples"):
        net.train_step(params, net.init_adam_state(params), X[:1], np.array([0]), config)
    with pytest.raises(TypeError, match="caches must be the list"):
        net.mlp_backward(np.zeros((5, 2)), None)


# ====================================================================== realistic wrong code

GRADS = {}


def mlp_backward_accumulating(dlogits, caches, grads=GRADS):
    """Adds into a dict that outlives the call (here a default argument)."""
    l = sum(kind == "dense" for kind, _ in caches)
    d = dlogits
    for kind, cache in reversed(caches):
        if kind == "dense":
            d, dW, db = dense_backward(d, cache)  # noqa: F821 (a global, as in a notebook)
            grads[f"W{l}"] = grads.get(f"W{l}", 0) + dW
            grads[f"b{l}"] = grads.get(f"b{l}", 0) + db
            l -= 1
        elif kind == "batchnorm":
            d, dg, dbt = batchnorm_backward(d, cache)  # noqa: F821
            grads[f"gamma{l}"], grads[f"beta{l}"] = dg, dbt
        elif kind == "relu":
            d = relu_backward(d, cache)  # noqa: F821
        else:
            d = dropout_backward(d, cache)  # noqa: F821
    return grads


def test_gradients_that_are_not_cleared_between_calls_are_named():
    GRADS.clear()
    fn = with_layers(mlp_backward_accumulating)
    fn.__name__ = "mlp_backward"
    rep = run("mlp_backward", {"mlp_backward": fn})
    assert not rep.passed
    assert any("not cleared" in h for h in hints(rep)), rep.text()
    assert "zero_grad" in rep.text()


def mlp_backward_new_mask(dlogits, caches):
    grads, l, d = {}, sum(kind == "dense" for kind, _ in caches), dlogits
    for kind, cache in reversed(caches):
        if kind == "dense":
            d, grads[f"W{l}"], grads[f"b{l}"] = dense_backward(d, cache)  # noqa: F821
            l -= 1
        elif kind == "batchnorm":
            d, grads[f"gamma{l}"], grads[f"beta{l}"] = batchnorm_backward(d, cache)  # noqa: F821
        elif kind == "relu":
            d = relu_backward(d, cache)  # noqa: F821
        else:  # draws a fresh mask instead of using the cached one
            keep = np.random.random(d.shape) >= 0.3
            d = d * keep / 0.7
    return grads


def test_a_dropout_mask_drawn_again_in_the_backward_pass_is_named():
    fn = with_layers(mlp_backward_new_mask)
    fn.__name__ = "mlp_backward"
    rep = run("mlp_backward", {"mlp_backward": fn})
    assert not rep.passed
    assert any("reuse the dropout masks" in h for h in hints(rep)), rep.text()


def mlp_forward_np_random(X, params, config, rng=None, train=True):
    L = len([k for k in params if k.startswith("W")])
    A, caches = X, []
    for l in range(1, L + 1):
        Z, c = dense_forward(A, params[f"W{l}"], params[f"b{l}"])  # noqa: F821
        caches.append(("dense", c))
        if l == L:
            break
        if config["batchnorm"]:
            if train:
                Z, c = batchnorm_forward(Z, params[f"gamma{l}"], params[f"beta{l}"])  # noqa: F821
                caches.append(("batchnorm", c))
            else:
                Z = params[f"gamma{l}"] * (Z - params[f"running_mean{l}"]) / np.sqrt(
                    params[f"running_var{l}"] + 1e-5) + params[f"beta{l}"]
        A, c = relu_forward(Z)  # noqa: F821
        caches.append(("relu", c))
        if train and config["dropout"]:
            A, c = dropout_forward(A, config["dropout"], np.random.default_rng())  # noqa: F821
            caches.append(("dropout", c))
    return Z, caches


def test_dropout_masks_not_drawn_from_the_rng_argument_are_named():
    fn = with_layers(mlp_forward_np_random)
    fn.__name__ = "mlp_forward"
    rep = run("mlp_forward", {"mlp_forward": fn})
    assert not rep.passed
    failing = [r.label for r in rep.results if not r.passed]
    assert all("dropout" in label for label in failing), failing
    assert any("from the rng argument" in h for h in hints(rep)), rep.text()


def train_step_in_place(params, state, X, y, config, rng=None):
    """Correct numbers, but writes the new values into the caller's dicts."""
    logits, caches = mlp_forward(X, params, config, rng)  # noqa: F821
    loss, dl = softmax_cross_entropy(logits, y)  # noqa: F821
    grads = mlp_backward(dl, caches)  # noqa: F821
    state["t"] += 1
    for k in grads:
        params[k], state["m"][k], state["v"][k] = adam_step(  # noqa: F821
            params[k], grads[k], state["m"][k], state["v"][k], state["t"], lr=config["lr"])
    l = 0
    for kind, c in caches:
        if kind == "batchnorm":
            l += 1
            n = len(X)
            params[f"running_mean{l}"] = 0.9 * params[f"running_mean{l}"] + 0.1 * c[2]
            params[f"running_var{l}"] = 0.9 * params[f"running_var{l}"] + 0.1 * c[3] * n / (n - 1)
    return params, state, loss


def test_a_train_step_that_writes_into_its_inputs_is_told_so():
    fn = with_layers(train_step_in_place)
    fn.__name__ = "train_step"
    rep = run("train_step", {"train_step": fn})
    assert not rep.passed
    first = next(r for r in rep.results if not r.passed)
    assert "changed the dict params" in first.message, first.message
    assert "return new dicts" in first.hint


def test_a_learner_network_uses_the_layer_functions_it_finds_by_name():
    """The network check runs the learner's mlp_forward with the layers of its namespace: a
    wrong layer there makes the network fail, which is why notebook 10 binds the names to
    your_functions() (yours where they passed, the reference otherwise)."""
    fn = with_layers(mlp_forward_np_random)
    fn.__globals__["dropout_forward"] = REF["dropout_forward"]
    fn.__globals__["relu_forward"] = lambda Z: (np.abs(Z), Z)     # a broken layer
    assert not run("mlp_forward", {"mlp_forward": fn}).passed


# ====================================================================== batch norm, staged

def batchnorm_backward_graph_sign_error(dout, cache):
    X, X_hat, mu, var, gamma, eps = cache
    N = X.shape[0]
    Xc, std = X - mu, np.sqrt(var + eps)
    dbeta, dgamma, dX_hat = dout.sum(0), (dout * X_hat).sum(0), dout * gamma
    dXc = dX_hat / std
    dstd = (dX_hat * Xc).sum(0) / std**2          # the minus of d(1/s) is lost
    dvar = dstd / (2 * std)
    dXc = dXc + dvar * 2 * Xc / N
    dmu = -dXc.sum(0)
    return dXc + dmu / N, dgamma, dbeta


def test_a_sign_error_in_the_variance_path_is_named():
    rep = run("batchnorm_backward_graph",
              {"batchnorm_backward_graph": batchnorm_backward_graph_sign_error})
    assert not rep.passed
    assert any("wrong sign" in h or "sign" in h for h in hints(rep)), rep.text()


def test_the_invariants_name_what_no_known_mistake_explains():
    """A wrong backward that no catalogued mistake reproduces is still told which path is off."""
    def batchnorm_backward(dout, cache):
        dX, dg, db = layers.batchnorm_backward(dout, cache)
        return dX + 0.01 * cache[1] ** 2, dg, db      # breaks Σₙ dX = 0
    rep = run("batchnorm_backward", {"batchnorm_backward": batchnorm_backward})
    assert any("Σₙ dX is not 0" in h for h in hints(rep)), rep.text()

    def batchnorm_backward(dout, cache):
        dX, dg, db = layers.batchnorm_backward(dout, cache)
        return dX + 0.3 * cache[1] * np.abs(dX).mean(0), dg, db   # Σₙ dX = 0, but not ⟂ X̂
    rep = run("batchnorm_backward", {"batchnorm_backward": batchnorm_backward})
    assert any("Σₙ dX·X̂ is not" in h for h in hints(rep)), rep.text()


def test_the_staged_and_compact_references_agree():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(9, 4)) * 3 + 1
    _, cache = layers.batchnorm_forward(X, rng.uniform(0.5, 2, 4), rng.normal(size=4))
    dout = rng.normal(size=X.shape)
    for a, b in zip(layers.batchnorm_backward_graph(dout, cache), layers.batchnorm_backward(dout, cache)):
        assert np.allclose(a, b, rtol=1e-12, atol=1e-14)


# ====================================================================== hints

@pytest.mark.parametrize("name", list(EXERCISES))
def test_every_exercise_has_three_hint_levels(name):
    levels = EXERCISES[name].hints
    assert len(levels) == 3 and all(isinstance(h, str) and len(h) > 10 for h in levels)
    assert len(set(levels)) == 3


def test_hint_reveals_the_next_level_each_time(capsys):
    for level in (1, 2, 3, 3):
        hint("batchnorm_backward")
        text = capsys.readouterr().out
        assert text.startswith(f"Hint {level} of 3 for batchnorm_backward")
    hint("dense_backward", level=3)
    assert capsys.readouterr().out.startswith("Hint 3 of 3 for dense_backward (the formula)")
    with pytest.raises(ValueError, match="not an exercise"):
        hint("dense_backwards")
    with pytest.raises(ValueError, match="level must be 1 to 3"):
        hint("dense_backward", level=4)


def test_a_failed_check_says_where_the_next_hint_is(capsys):
    from bpcourse.checks import check

    def dense_backward(dZ, cache):
        X, W, b = cache
        return dZ @ W.T, X.T @ dZ, dZ.mean(axis=0)

    check(dense_backward)
    out = capsys.readouterr().out
    assert "Stuck? hint('dense_backward') shows hint 1 of 3 (a nudge)." in out
    hint("dense_backward")
    capsys.readouterr()
    check(dense_backward)
    assert "shows hint 2 of 3 (the idea)" in capsys.readouterr().out


@pytest.mark.parametrize("name", list(EXERCISES))
def test_the_nudge_gives_no_formula(name):
    """Level 1 (what the stub says) names no formula: no '=' assignment of a result."""
    nudge = EXERCISES[name].hints[0]
    assert " = " not in nudge and "==" not in nudge, nudge


# ====================================================================== your functions, kept

def learner_module_functions():
    """A correct mlp_forward as a learner writes it in notebook 10, in a module of its own."""
    return '''
import numpy as np


def mlp_forward(X, params, config, rng=None, train=True):
    K = len([key for key in params if key.startswith("W")])
    caches, A = [], X
    for l in range(1, K + 1):
        Z, cache = dense_forward(A, params[f"W{l}"], params[f"b{l}"])
        caches.append(("dense", cache))
        if l == K:
            break
        if config["batchnorm"]:
            if train:
                Z, cache = batchnorm_forward(Z, params[f"gamma{l}"], params[f"beta{l}"])
                caches.append(("batchnorm", cache))
            else:
                Z = params[f"gamma{l}"] * (Z - params[f"running_mean{l}"]) / np.sqrt(
                    params[f"running_var{l}"] + 1e-5) + params[f"beta{l}"]
        A, cache = relu_forward(Z)
        caches.append(("relu", cache))
        if train and config["dropout"] > 0:
            A, cache = dropout_forward(A, config["dropout"], rng)
            caches.append(("dropout", cache))
    return Z, (caches if train else None)
'''


def test_a_passing_network_function_is_kept_and_comes_back_with_the_layers(tmp_path, capsys):
    import importlib.util

    from bpcourse.checks import check, your_functions

    path = tmp_path / "learner_nb10.py"
    path.write_text(learner_module_functions(), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("learner_nb10", path)
    module = importlib.util.module_from_spec(spec)
    for name in ("dense_forward", "batchnorm_forward", "relu_forward", "dropout_forward"):
        setattr(module, name, REF[name])
    spec.loader.exec_module(module)
    assert check(module.mlp_forward) is module.mlp_forward
    F = your_functions(verbose=False)
    assert F.mlp_forward is not REF["mlp_forward"]          # the learner's, loaded again ...
    assert F.mlp_forward.__globals__["dense_forward"] is F.dense_forward   # ... with F's layers
    assert run("mlp_forward", {"mlp_forward": F.mlp_forward}).passed
