"""bpcourse.checks: the battery of tests behind check() and the grader.

Every exercise passes with the reference AND with a correct implementation written here,
independently; stubs, missing functions, crashes and structural mistakes each get a clear
verdict; check() prints, returns the right function and keeps the learner's passing source.
"""

import inspect
import json
import re

import numpy as np
import pytest

from bpcourse import checks
from bpcourse.checks import EXERCISES, check, driver, report, run, your_functions
from bpcourse.checks.registry import reference_functions

REF = reference_functions()


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    """Every test keeps its saved sources in its own folder."""
    folder = tmp_path / "bpcourse_home"
    monkeypatch.setenv("BPCOURSE_HOME", str(folder))
    return folder


def flat(text):
    """Text without any whitespace: immune to the verdict's line wrapping."""
    return "".join(text.split())


def failures(rep):
    return [r for r in rep.results if not r.passed]


def messages(rep):
    return " | ".join(r.message for r in failures(rep))


# ====================================================================== correct implementations
# Written independently of bpcourse.layers / losses / optim / gradcheck: different formulas,
# different code paths, the same answers.

def my_dense_forward(X, W, b):
    Z = np.einsum("nd,dm->nm", X, W) + b[np.newaxis, :]
    return Z, (X, W, b)


def my_dense_backward(dZ, cache):
    X, W, _ = cache
    dX = np.einsum("nm,dm->nd", dZ, W)
    dW = np.einsum("nd,nm->dm", X, dZ)
    db = np.einsum("nm->m", dZ)
    return dX, dW, db


def my_relu_forward(Z):
    A = np.where(Z > 0, Z, np.zeros_like(Z))
    return A, Z


def my_relu_backward(dA, cache):
    Z = cache
    dZ = dA.copy()
    dZ[Z <= 0] = 0
    return dZ


def my_sigmoid_forward(Z):
    """Two branches, each only exponentiating non-positive numbers."""
    A = np.empty_like(Z)
    pos = Z >= 0
    A[pos] = 1 / (1 + np.exp(-Z[pos]))
    e = np.exp(Z[~pos])
    A[~pos] = e / (1 + e)
    return A, A


def my_sigmoid_backward(dA, cache):
    A = cache
    return dA * (A - A * A)


def my_tanh_forward(Z):
    t = np.exp(-2 * np.abs(Z))  # in (0, 1]: never overflows
    A = np.sign(Z) * (1 - t) / (1 + t)
    return A, A


def my_tanh_backward(dA, cache):
    A = cache
    return dA * (1 - A) * (1 + A)


def my_softmax(Z):
    shifted = Z - Z.max(axis=1)[:, None]
    E = np.exp(shifted)
    return E / E.sum(axis=1)[:, None]


def my_cross_entropy(P, y):
    N = P.shape[0]
    logP = np.log(np.maximum(P, np.finfo(P.dtype).tiny))
    if y.ndim == 1:
        return -float(logP[np.arange(N), y].sum()) / N
    return -float((y * logP).sum()) / N


def my_softmax_cross_entropy(Z, y):
    N, C = Z.shape
    Y = y.astype(Z.dtype) if y.ndim == 2 else np.eye(C, dtype=Z.dtype)[y]
    shifted = Z - Z.max(axis=1, keepdims=True)
    log_P = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -float((Y * log_P).sum()) / N
    dZ = (np.exp(log_P) - Y) / N
    return loss, dZ


def my_numerical_gradient(f, x, h=1e-5):
    """CS231n style: np.nditer over x, perturbing it in place and restoring it exactly."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix].copy()
        x[ix] = old + h
        fxph = f(x)
        x[ix] = old - h
        fxmh = f(x)
        x[ix] = old
        grad[ix] = (fxph - fxmh) / (2 * h)
        it.iternext()
    return grad


def my_batchnorm_forward(X, gamma, beta, eps=1e-5):
    N = X.shape[0]
    mu = X.sum(axis=0) / N
    xc = X - mu
    var = (xc * xc).sum(axis=0) / N
    X_hat = xc / np.sqrt(var + eps)
    return gamma * X_hat + beta, (X, X_hat, mu, var, gamma, eps)


def my_batchnorm_backward(dout, cache):
    """Step by step back through the graph mu -> xc -> var -> std -> X_hat -> out."""
    X, _, mu, var, gamma, eps = cache
    N = X.shape[0]
    xc = X - mu
    std = np.sqrt(var + eps)
    istd = 1 / std
    X_hat = xc * istd
    dbeta = dout.sum(axis=0)
    dgamma = (dout * X_hat).sum(axis=0)
    dX_hat = dout * gamma
    dxc = dX_hat * istd                         # X_hat = xc * istd, through xc
    distd = (dX_hat * xc).sum(axis=0)           # ... and through istd
    dstd = -distd / (std * std)
    dvar = 0.5 * dstd / std                     # std = sqrt(var + eps)
    dxc = dxc + 2 * xc * dvar / N               # var = mean(xc ** 2)
    dmu = -dxc.sum(axis=0)                      # xc = X - mu
    dX = dxc + dmu / N                          # mu = mean(X)
    return dX, dgamma, dbeta


def my_batchnorm_backward_graph(dout, cache):
    return my_batchnorm_backward(dout, cache)


def my_batchnorm_backward_compact(dout, cache):
    """The compact formula, written with means instead of sums."""
    _, X_hat, _, var, gamma, eps = cache
    dX_hat = dout * gamma
    dX = (dX_hat - dX_hat.mean(axis=0) - X_hat * (dX_hat * X_hat).mean(axis=0)) / np.sqrt(var + eps)
    return dX, np.einsum("nd,nd->d", dout, X_hat), np.einsum("nd->d", dout)


def my_dropout_forward(X, p, rng):
    """The contract's draw (u >= p), written another way."""
    u = rng.random(X.shape)
    mask = np.where(u >= p, 1.0 / (1.0 - p) if p < 1 else 0.0, 0.0).astype(X.dtype)
    return X * mask, mask


def my_dropout_backward(dout, cache):
    mask = cache
    dX = np.zeros_like(dout)
    kept = mask != 0
    dX[kept] = dout[kept] * mask[kept]
    return dX


def my_sgd_step(w, dw, lr):
    return w + (-lr) * dw


def my_sgd_momentum_step(w, dw, velocity, lr, momentum=0.9):
    v = velocity * momentum + dw
    return w - v * lr, v


def my_adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m_new = beta1 * m + (1 - beta1) * dw
    v_new = beta2 * v + (1 - beta2) * np.square(dw)
    m_hat = m_new / (1 - beta1 ** t)
    v_hat = v_new / (1 - beta2 ** t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m_new, v_new


def my_two_layer_loss_and_grads(params, X, y):
    W1, b1, W2, b2 = params
    Z1 = X @ W1 + b1
    A1 = np.maximum(Z1, 0)
    loss, dZ2 = my_softmax_cross_entropy(A1 @ W2 + b2, y)
    dA1 = dZ2 @ W2.T
    dZ1 = dA1 * (Z1 > 0)
    return loss, [X.T @ dZ1, dZ1.sum(axis=0), A1.T @ dZ2, dZ2.sum(axis=0)]


def my_mlp_forward(X, params, config, rng=None, train=True):
    """Builds the list of layers first, then runs it."""
    L = max(int(k[1:]) for k in params if k[0] == "W" and k[1:].isdigit())
    plan = []
    for l in range(1, L + 1):
        plan.append(("dense", l))
        if l < L:
            plan += [("batchnorm", l)] * bool(config["batchnorm"]) + [("relu", l)]
            plan += [("dropout", l)] * (config["dropout"] > 0 and train)
    caches, A = [], X
    for kind, l in plan:
        if kind == "dense":
            A, c = my_dense_forward(A, params[f"W{l}"], params[f"b{l}"])
        elif kind == "batchnorm" and train:
            A, c = my_batchnorm_forward(A, params[f"gamma{l}"], params[f"beta{l}"])
        elif kind == "batchnorm":
            rm, rv = params[f"running_mean{l}"], params[f"running_var{l}"]
            A = params[f"gamma{l}"] * (A - rm) / np.sqrt(rv + 1e-5) + params[f"beta{l}"]
            continue
        elif kind == "relu":
            A, c = my_relu_forward(A)
        else:
            A, c = my_dropout_forward(A, config["dropout"], rng)
        caches.append((kind, c))
    return A, (caches if train else None)


def my_mlp_backward(dlogits, caches):
    layer_of, l = [], 0
    for kind, _ in caches:  # each cache's layer number, counted forward
        l += kind == "dense"
        layer_of.append(l)
    grads, d = {}, dlogits
    for (kind, c), l in zip(caches[::-1], layer_of[::-1]):
        if kind == "dense":
            d, grads["W%d" % l], grads["b%d" % l] = my_dense_backward(d, c)
        elif kind == "batchnorm":
            d, grads["gamma%d" % l], grads["beta%d" % l] = my_batchnorm_backward(d, c)
        elif kind == "relu":
            d = my_relu_backward(d, c)
        else:
            d = my_dropout_backward(d, c)
    return grads


def my_train_step(params, state, X, y, config, rng=None):
    logits, caches = my_mlp_forward(X, params, config, rng)
    loss, dlogits = my_softmax_cross_entropy(logits, y)
    grads = my_mlp_backward(dlogits, caches)
    t = state["t"] + 1
    new = {k: v for k, v in params.items()}
    m, v = {}, {}
    for k, g in grads.items():
        new[k], m[k], v[k] = my_adam_step(params[k], g, state["m"][k], state["v"][k], t,
                                          lr=config["lr"])
    n, l = len(X), 0
    for kind, c in caches:
        if kind == "batchnorm":
            l += 1
            _, _, mu, var, _, _ = c
            new["running_mean%d" % l] = params["running_mean%d" % l] + 0.1 * (mu - params["running_mean%d" % l])
            new["running_var%d" % l] = params["running_var%d" % l] + 0.1 * (var * n / (n - 1) - params["running_var%d" % l])
    return new, {"t": t, "m": m, "v": v}, loss


def my_train_epoch(params, state, X, y, config, rng, batch_size=64):
    order = rng.permutation(len(X))
    losses = []
    for idx in np.array_split(order, range(batch_size, len(X), batch_size)):
        params, state, loss = my_train_step(params, state, X[idx], y[idx], config, rng)
        losses += [loss] * len(idx)
    return params, state, float(np.mean(losses))


MINE = {name[3:]: fn for name, fn in dict(globals()).items() if name.startswith("my_")}
MINE["batchnorm_backward"] = MINE.pop("batchnorm_backward_compact")


def test_every_exercise_has_a_hand_written_implementation_here():
    assert len(EXERCISES) == 25
    assert set(MINE) == set(EXERCISES)
    assert "rel_error" not in EXERCISES


# ====================================================================== what passes

@pytest.mark.parametrize("name", list(EXERCISES))
def test_the_reference_passes(name):
    needs = {n: REF[n] for n in EXERCISES[name].needs}
    rep = run(name, {name: REF[name], **needs})
    assert rep.passed, rep.text()
    assert rep.status == "passed" and rep.score == 1.0
    assert len(rep.results) >= 2
    assert rep.text().startswith(f"✓ {name} passed all {len(rep.results)} tests")


@pytest.mark.parametrize("name", list(EXERCISES))
def test_a_hand_written_correct_implementation_passes(name):
    rep = run(name, {name: MINE[name]})
    assert rep.passed, rep.text()
    assert rep.score == 1.0


@pytest.mark.parametrize("name", [n for n, ex in EXERCISES.items() if ex.needs])
def test_a_correct_backward_passes_with_its_own_forward(name):
    forward = EXERCISES[name].needs[0]
    rep = run(name, {name: MINE[name], forward: MINE[forward]})
    assert rep.passed, rep.text()


def test_dropout_forward_with_another_valid_draw_is_told_the_contract():
    def dropout_forward(X, p, rng):  # a valid inverted dropout, keeping where u < 1 - p
        keep = rng.random(X.shape) < 1 - p
        mask = keep.astype(X.dtype) / X.dtype.type(1 - p)
        return X * mask, mask

    rep = run("dropout_forward", {"dropout_forward": dropout_forward})
    assert not rep.passed
    wrong = failures(rep)[0]
    assert "valid dropout mask" in wrong.message
    assert "rng.random(X.shape) >= p" in wrong.hint


# ====================================================================== not there, not done, crashing

def test_a_stub_is_not_implemented():
    def dense_forward(X, W, b):
        # YOUR CODE HERE
        raise NotImplementedError("implement dense_forward")

    rep = run("dense_forward", {"dense_forward": dense_forward})
    assert not rep.passed and rep.score == 0.0
    assert rep.status == "not_implemented"
    assert "not implemented yet" in rep.text()
    assert all(r.status == "not_implemented" for r in rep.results)


def test_a_backward_stub_with_a_working_forward_is_not_implemented():
    def dense_backward(dZ, cache):
        raise NotImplementedError

    rep = run("dense_backward", {"dense_backward": dense_backward, "dense_forward": my_dense_forward})
    assert rep.status == "not_implemented"
    assert "dense_backward is not implemented yet" in rep.text()


def test_a_missing_function():
    rep = run("softmax", {})
    assert rep.status == "missing" and not rep.passed
    assert "not found" in rep.text() and "softmax" in rep.text()


def test_a_missing_backward_even_with_its_forward():
    rep = run("dense_backward", {"dense_forward": my_dense_forward})
    assert rep.status == "missing"
    assert "dense_backward was not found" in rep.text()


def test_a_not_callable_value_counts_as_missing():
    rep = run("softmax", {"softmax": np.zeros(3)})
    assert rep.status == "missing"


def test_run_rejects_an_unknown_exercise():
    with pytest.raises(ValueError, match="dense_forward"):
        run("dense_forwrad", {})


def test_a_crash_quotes_the_exception_and_the_learners_line():
    def dense_forward(X, W, b):
        Z = X @ W
        raise KeyError("the learner's own message")

    line = dense_forward.__code__.co_firstlineno + 2
    rep = run("dense_forward", {"dense_forward": dense_forward})
    assert rep.status == "failed" and rep.score == 0.0
    assert all(r.status == "error" for r in failures(rep))
    text = flat(rep.text())
    assert flat("KeyError: \"the learner's own message\"") in text
    assert flat(f"line {line} of dense_forward") in text
    assert flat('raise KeyError("the learner\'s own message")') in text


def test_a_numpy_error_points_at_the_learners_line_not_inside_numpy():
    def dense_forward(X, W, b):
        Z = X @ W
        Z = Z + b[:1, None]                      # wrong broadcast: (N, M) + (1, 1) is fine ...
        return Z + b[:-1], (X, W, b)             # ... this one is not

    line = dense_forward.__code__.co_firstlineno + 3
    rep = run("dense_forward", {"dense_forward": dense_forward})
    first = failures(rep)[0]
    assert first.status == "error"
    assert "ValueError" in first.message and "broadcast" in first.message
    assert f"line {line} of dense_forward" in first.message
    assert "numpy" not in first.message.split("(line")[-1]


def test_output_printed_by_the_learner_does_not_leak(capsys):
    def relu_forward(Z):
        print("debugging!")
        return np.maximum(Z, 0), Z

    assert run("relu_forward", {"relu_forward": relu_forward}).passed
    assert "debugging!" not in capsys.readouterr().out


# ====================================================================== structural failures

def test_returning_the_output_alone_instead_of_the_tuple():
    def dense_forward(X, W, b):
        return X @ W + b

    rep = run("dense_forward", {"dense_forward": dense_forward})
    assert not rep.passed
    msg = failures(rep)[0].message
    assert "should return a tuple (Z, cache)" in msg
    assert "it returned a single float64 array of shape" in msg


def test_a_backward_returning_too_few_values():
    def dense_backward(dZ, cache):
        X, W, b = cache
        return dZ @ W.T, X.T @ dZ

    msg = failures(run("dense_backward", {"dense_backward": dense_backward}))[0].message
    assert "(dX, dW, db)" in msg and "tuple of 2" in msg


def test_returning_a_list_instead_of_an_array():
    def dense_forward(X, W, b):
        return (X @ W + b).tolist(), (X, W, b)

    msg = failures(run("dense_forward", {"dense_forward": dense_forward}))[0].message
    assert "Z should be a numpy array" in msg and "got list" in msg


class Liar(np.ndarray):
    """An array that claims to equal anything."""

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False


def test_an_ndarray_subclass_is_rejected():
    def dense_forward(X, W, b):
        return (X @ W + b).view(Liar), (X, W, b)

    rep = run("dense_forward", {"dense_forward": dense_forward})
    assert not rep.passed and rep.score == 0.0
    msg = failures(rep)[0].message
    assert "should be a numpy array" in msg and "Liar" in msg


def test_a_subclass_that_lies_about_equality_does_not_pass_a_float_output():
    def cross_entropy(P, y):
        return np.array(0.0).view(Liar)

    rep = run("cross_entropy", {"cross_entropy": cross_entropy})
    assert rep.score == 0.0
    assert "loss should be a float" in failures(rep)[0].message


def test_float32_in_float64_out():
    def dense_forward(X, W, b):
        return (X @ W + b).astype(np.float64), (X, W, b)

    rep = run("dense_forward", {"dense_forward": dense_forward})
    assert not rep.passed and 0 < rep.score < 1  # the float64 cases pass
    bad = failures(rep)
    assert all("float32" in r.label for r in bad)
    assert "float32 in, float32 out" in bad[0].message and "got float64" in bad[0].message


def _shape_in(message):
    m = re.search(r"should have shape \((\d+), (\d+)\), got \((\d+), (\d+)\)", message)
    assert m, message
    return tuple(map(int, m.groups()[:2])), tuple(map(int, m.groups()[2:]))


def test_a_wrong_shape_names_both_shapes():
    def dense_forward(X, W, b):
        return (X @ W + b)[:, 1:], (X, W, b)

    msg = failures(run("dense_forward", {"dense_forward": dense_forward}))[0].message
    (n, m), (n2, m2) = _shape_in(msg)
    assert (n2, m2) == (n, m - 1)
    assert "transpose" not in msg


def test_a_transposed_shape_says_transpose():
    def dense_forward(X, W, b):
        return (X @ W + b).T, (X, W, b)

    msg = failures(run("dense_forward", {"dense_forward": dense_forward}))[0].message
    expected, got = _shape_in(msg)
    assert got == expected[::-1] and expected[0] != expected[1]
    assert "transpose" in msg


def test_nan_outputs_are_named():
    def dense_forward(X, W, b):
        Z = X @ W + b
        Z[0, 0] = np.nan
        return Z, (X, W, b)

    rep = run("dense_forward", {"dense_forward": dense_forward})
    assert rep.score == 0.0
    assert "NaN" in failures(rep)[0].message


def test_modifying_an_input_in_place_names_the_input():
    def relu_forward(Z):
        Z[Z < 0] = 0
        return Z, Z

    rep = run("relu_forward", {"relu_forward": relu_forward})
    assert not rep.passed
    msg = failures(rep)[0].message
    assert "modified its input Z in place" in msg
    assert "copy" in msg


def test_modifying_a_later_input_names_that_input():
    def sgd_momentum_step(w, dw, velocity, lr, momentum=0.9):
        velocity *= momentum
        velocity += dw
        return w - lr * velocity, velocity.copy()

    rep = run("sgd_momentum_step", {"sgd_momentum_step": sgd_momentum_step})
    assert not rep.passed
    assert "modified its input velocity in place" in failures(rep)[0].message


def test_numerical_gradient_that_restores_by_subtracting_h():
    def numerical_gradient(f, x, h=1e-5):
        grad = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            x[i] += h
            fp = f(x)
            x[i] -= 2 * h
            fm = f(x)
            x[i] += h            # "restores" x[i]: not exactly, in floating point
            grad[i] = (fp - fm) / (2 * h)
        return grad

    rep = run("numerical_gradient", {"numerical_gradient": numerical_gradient})
    assert not rep.passed
    msg = failures(rep)[0].message
    assert "modified its input x in place" in msg
    assert "tiny amounts" in msg and "restore the saved value" in msg


# ====================================================================== describing the factor

def test_dividing_everything_by_N_is_described_as_1_over_N():
    def dense_backward(dZ, cache):
        X, W, b = cache
        N = X.shape[0]
        return dZ @ W.T / N, X.T @ dZ / N, dZ.sum(axis=0) / N

    rep = run("dense_backward", {"dense_backward": dense_backward})
    assert rep.score == 0.0
    first = failures(rep)[0]
    assert "dX has wrong values" in first.message
    assert "1/N" in first.message
    assert "N twice" in (first.hint or "")


def test_a_sign_error_is_described_as_such():
    def dense_backward(dZ, cache):
        X, W, b = cache
        return -(dZ @ W.T), -(X.T @ dZ), -dZ.sum(axis=0)

    msg = failures(run("dense_backward", {"dense_backward": dense_backward}))[0].message
    assert "sign" in msg
    assert "1/N" not in msg


def test_a_wrong_value_shows_expected_and_got():
    def sgd_step(w, dw, lr):
        return w - 2 * lr * dw

    rep = run("sgd_step", {"sgd_step": sgd_step})
    msg = failures(rep)[0].message
    m = re.search(r"expected (-?[\d.e+-]+), got (-?[\d.e+-]+)", msg)
    assert m, msg
    assert float(m.group(1)) != float(m.group(2))


# ====================================================================== the learner's own forward

def dict_dense_forward(X, W, b):
    return X @ W + b, {"X": X, "W": W}


def dict_dense_backward(dZ, cache):
    X, W = cache["X"], cache["W"]
    return dZ @ W.T, X.T @ dZ, dZ.sum(axis=0)


def test_a_backward_with_its_own_cache_layout_passes_with_its_forward():
    rep = run("dense_backward", {"dense_backward": dict_dense_backward,
                                 "dense_forward": dict_dense_forward})
    assert rep.passed, rep.text()


def test_a_backward_with_its_own_cache_layout_fails_without_its_forward():
    rep = run("dense_backward", {"dense_backward": dict_dense_backward})
    assert not rep.passed and rep.score == 0.0
    assert "dense_backward raised" in failures(rep)[0].message


def test_check_with_the_learners_forward(capsys):
    dense_forward = dict_dense_forward
    dense_forward.__name__ = "dense_forward"
    dense_backward = dict_dense_backward
    dense_backward.__name__ = "dense_backward"
    try:
        assert check(dense_backward, dense_forward) is dense_backward
        assert "passed" in capsys.readouterr().out
        assert check(dense_backward) is REF["dense_backward"]
        out = capsys.readouterr().out
        assert "failed" in out and "uses the reference dense_backward" in out
    finally:
        dict_dense_forward.__name__ = "dict_dense_forward"
        dict_dense_backward.__name__ = "dict_dense_backward"


def test_a_backward_whose_forward_does_not_return_a_cache():
    def dense_forward(X, W, b):
        return X @ W + b

    rep = run("dense_backward", {"dense_backward": dict_dense_backward, "dense_forward": dense_forward})
    assert not rep.passed
    assert "did not return (out, cache)" in messages(rep)


# ====================================================================== check()

def test_check_prints_the_verdict_and_returns_the_function_on_pass(capsys, home):
    def relu_forward(Z):
        return np.maximum(Z, 0.0).astype(Z.dtype), Z

    assert check(relu_forward) is relu_forward
    out = capsys.readouterr().out
    assert "✓ relu_forward passed all" in out
    assert "reference" not in out
    assert (home / "yours" / "relu_forward.py").is_file()


def test_check_returns_the_reference_on_failure_and_says_so(capsys, home):
    def relu_forward(Z):
        return np.abs(Z), Z

    assert check(relu_forward) is REF["relu_forward"]
    out = capsys.readouterr().out
    assert "✗ relu_forward failed" in out
    assert "uses the reference relu_forward until yours passes" in out
    assert not (home / "yours" / "relu_forward.py").exists()


def test_check_of_a_stub(capsys):
    def softmax(Z):
        raise NotImplementedError("implement softmax")

    assert check(softmax) is REF["softmax"]
    assert "not implemented yet" in capsys.readouterr().out


def test_check_of_the_reference_says_it_is_the_reference(capsys):
    fn = REF["dense_forward"]
    assert check(fn) is fn
    out = capsys.readouterr().out
    assert "is the reference implementation" in out and "dense_forward" in out


def test_check_of_an_unknown_function_lists_the_exercises():
    def dense_forwards(X, W, b):
        return X @ W + b, (X, W, b)

    with pytest.raises(ValueError) as err:
        check(dense_forwards)
    text = str(err.value)
    assert "dense_forwards" in text
    assert all(name in text for name in EXERCISES)


def test_check_with_an_explicit_name(capsys):
    def my_relu(Z):
        return np.maximum(Z, 0), Z

    assert check(my_relu, name="relu_forward") is my_relu
    assert "relu_forward passed" in capsys.readouterr().out


def test_a_passing_check_is_kept_for_your_functions(capsys, home):
    def sigmoid_forward(Z):
        E = np.exp(-np.abs(Z))
        A = np.where(Z >= 0, 1 / (1 + E), E / (1 + E))
        return A, A

    check(sigmoid_forward)
    saved = home / "yours" / "sigmoid_forward.py"
    assert saved.read_text().startswith("def sigmoid_forward(Z):")  # dedented

    ns = your_functions()
    out = capsys.readouterr().out
    assert "Yours (1): sigmoid_forward" in out
    mine = ns.sigmoid_forward
    assert mine is not REF["sigmoid_forward"]
    assert mine.__code__.co_filename == str(saved)
    Z = np.linspace(-5, 5, 12).reshape(3, 4)
    np.testing.assert_allclose(mine(Z)[0], 1 / (1 + np.exp(-Z)))
    for name in EXERCISES:
        if name != "sigmoid_forward":
            assert getattr(ns, name) is REF[name], name


def test_a_saved_source_that_no_longer_passes_falls_back_to_the_reference(capsys, home):
    def tanh_forward(Z):
        A = np.tanh(Z)
        return A, A

    check(tanh_forward)
    assert your_functions(verbose=False).tanh_forward is not REF["tanh_forward"]
    (home / "yours" / "tanh_forward.py").write_text(
        "def tanh_forward(Z):\n    return np.tanh(Z)\n")              # no cache any more
    assert your_functions(verbose=False).tanh_forward is REF["tanh_forward"]
    (home / "yours" / "tanh_forward.py").write_text("def tanh_forward(Z:\n")   # a syntax error
    assert your_functions(verbose=False).tanh_forward is REF["tanh_forward"]


def test_a_forward_with_an_undocumented_cache_fails_with_the_cache_hint(capsys):
    def dense_forward(X, W, b):
        return X @ W + b, {"X": X, "W": W}

    assert check(dense_forward) is REF["dense_forward"]
    out = flat(capsys.readouterr().out)
    assert flat("the cache should be the tuple (X, W, b), got dict") in out
    assert flat("The cache of dense_forward is (X, W, b)") in out


def test_your_functions_keeps_a_passing_forward_and_backward(capsys):
    def dense_forward(X, W, b):
        return X @ W + b, (X, W, b)

    def dense_backward(dZ, cache):
        X, W, b = cache
        return dZ @ W.T, X.T @ dZ, dZ.sum(axis=0)

    assert check(dense_forward) is dense_forward
    assert check(dense_backward, dense_forward) is dense_backward
    ns = your_functions(verbose=False)
    assert ns.dense_forward is not REF["dense_forward"]
    assert ns.dense_backward is not REF["dense_backward"]


def test_check_uses_the_reference_forward_when_given_it(capsys):
    def dense_backward(dZ, cache):
        X, W, b = cache
        return dZ @ W.T, X.T @ dZ, dZ.sum(axis=0)

    assert check(dense_backward, REF["dense_forward"]) is dense_backward


# ====================================================================== determinism

def test_two_runs_give_identical_verdicts():
    def dense_backward(dZ, cache):
        X, W, b = cache
        return dZ @ W.T, X.T @ dZ, dZ.mean(axis=0)

    a = run("dense_backward", {"dense_backward": dense_backward})
    b = run("dense_backward", {"dense_backward": dense_backward})
    assert not a.passed
    assert a.text() == b.text()
    assert [(r.label, r.message, r.hint) for r in a.results] == \
        [(r.label, r.message, r.hint) for r in b.results]


def _arrays(cases):
    arrays = {}
    driver.encode([c.calls for c in cases], arrays)
    return [arrays[k] for k in sorted(arrays, key=lambda k: int(k[1:]))]


@pytest.mark.parametrize("name", ["dense_forward", "batchnorm_backward", "adam_step", "softmax"])
def test_the_same_seed_gives_the_same_cases_and_another_seed_others(name):
    given = {name, *EXERCISES[name].needs}
    a0 = _arrays(report.make_cases(name, 0, given))
    b0 = _arrays(report.make_cases(name, 0, given))
    a1 = _arrays(report.make_cases(name, 1, given))
    assert len(a0) == len(b0) and all(np.array_equal(x, y) for x, y in zip(a0, b0))
    # every random array of seed 0 (not the fixed ones: zeros, the ±1000 logits) is new in seed 1
    random = [x for x in a0 if x.size > 3 and x.std() > 0 and np.abs(x).max() < 100]
    assert len(random) >= 3
    assert not any(np.array_equal(x, y) for x in random for y in a1)


def test_run_with_another_seed_runs_other_inputs():
    seen = {}

    def softmax(Z):
        seen.setdefault("calls", []).append(Z.copy())
        return my_softmax(Z)

    assert run("softmax", {"softmax": softmax}, seed=0).passed
    first = seen.pop("calls")
    assert run("softmax", {"softmax": softmax}, seed=1).passed
    second = seen.pop("calls")
    assert not np.array_equal(first[0], second[0])
    assert run("softmax", {"softmax": softmax}, seed=0).passed
    again = seen.pop("calls")
    assert all(np.array_equal(x, y) for x, y in zip(first, again))


def test_exercise_seeds_differ_per_exercise_and_per_seed():
    s = report.exercise_seed
    assert s("dense_forward", 0) != s("dense_backward", 0)
    assert s("dense_forward", 0) != s("dense_forward", 1)
    assert s("dense_forward", 3) == s("dense_forward", 3)


# ====================================================================== driver: data, not pickles

def test_encode_decode_round_trip_of_nested_specs():
    rng = np.random.default_rng(0)
    X, W, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 2)).astype(np.float32), np.arange(2.0)
    spec = {"fn": "dense_backward",
            "args": [rng.normal(size=(3, 2)),
                     {"tuple": [X, W, b]},
                     {"cache_of": {"fn": "dense_forward", "args": [X, W, b]}},
                     {"rng": 7},
                     {"function": "quadratic", "params": {"a": np.ones(3), "b": np.zeros(3)}},
                     np.float64(0.5), np.int64(3), "text", None, [1, 2.5]]}
    arrays = {}
    encoded = driver.encode(spec, arrays)
    text = json.dumps(encoded)                   # plain JSON: no array, no pickle inside
    assert "array" in text and len(arrays) == 9
    assert all(type(a) is np.ndarray for a in arrays.values())
    decoded = driver.decode(json.loads(text), arrays)
    assert decoded["fn"] == "dense_backward"
    args = decoded["args"]
    assert np.array_equal(args[0], spec["args"][0])
    assert [a.dtype for a in args[1]["tuple"]] == [np.float64, np.float32, np.float64]
    assert all(np.array_equal(a, e) for a, e in zip(args[1]["tuple"], [X, W, b]))
    assert np.array_equal(args[2]["cache_of"]["args"][1], W)
    assert args[3] == {"rng": 7}
    assert np.array_equal(args[4]["params"]["a"], np.ones(3))
    assert args[5:] == [0.5, 3, "text", None, [1, 2.5]]
    assert type(args[5]) is float and type(args[6]) is int


def test_encoded_arrays_travel_without_pickle(tmp_path):
    spec = {"args": [np.arange(6.0).reshape(2, 3), {"tuple": [np.eye(2, dtype=np.float32)]}]}
    arrays = {}
    encoded = driver.encode(spec, arrays)
    np.savez(tmp_path / "a.npz", **arrays)
    with np.load(tmp_path / "a.npz", allow_pickle=False) as loaded:
        back = driver.decode(json.loads(json.dumps(encoded)), dict(loaded))
    assert np.array_equal(back["args"][0], spec["args"][0])
    assert back["args"][1]["tuple"][0].dtype == np.float32


def test_decoded_calls_run_like_the_originals():
    cases = report.make_cases("dense_backward", 0, {"dense_backward", "dense_forward"})
    arrays = {}
    encoded = json.loads(json.dumps(driver.encode([c.calls for c in cases], arrays)))
    decoded = driver.decode(encoded, arrays)
    functions = {"dense_backward": my_dense_backward, "dense_forward": my_dense_forward}
    for case, calls in zip(cases, decoded):
        a = driver.run_calls(functions, case.calls)
        b = driver.run_calls(functions, calls)
        for ra, rb in zip(a, b):
            assert ra["status"] == rb["status"] == "ok"
            for ia, ib in zip(ra["returned"]["items"], rb["returned"]["items"]):
                assert np.array_equal(ia["value"], ib["value"])


def test_pack():
    p = driver.pack
    assert p(1.5) == {"tuple": False, "items": [{"kind": "float", "value": 1.5, "type": "float"}]}
    item = p(np.float32(2.5))["items"][0]
    assert item["kind"] == "float" and item["value"] == 2.5 and type(item["value"]) is float
    item = p(np.array(3.0))["items"][0]
    assert item["kind"] == "float" and item["value"] == 3.0 and "0-d" in item["type"]
    assert p(np.array(3))["items"][0]["kind"] == "array"      # a 0-d integer array is no loss
    item = p(np.arange(3.0).view(Liar))["items"][0]
    assert item["kind"] == "other" and "Liar" in item["type"]
    assert p([1.0, 2.0])["items"][0] == {"kind": "list", "items": [
        {"kind": "float", "value": 1.0, "type": "float"}, {"kind": "float", "value": 2.0, "type": "float"}]}
    item = p({"W1": np.ones(2), "t": 3})["items"][0]
    assert item["kind"] == "dict" and item["keys"] == ["W1", "t"]
    assert [i["kind"] for i in item["items"]] == ["array", "float"]
    assert p({1: 2.0})["items"][0]["kind"] == "other"             # keys must be strings
    deep = [[[[1.0]]]]
    assert "too deep" in p(deep)["items"][0]["items"][0]["items"][0]["items"][0]["type"]
    assert p(list(range(1000)))["items"][0]["kind"] == "other"     # too long
    assert p(None)["items"][0] == {"kind": "other", "type": "NoneType"}
    assert p(True)["items"][0]["kind"] == "other"
    assert p(np.array(["a"]))["items"][0]["kind"] == "other"
    assert p(object())["items"][0]["kind"] == "other"


def test_pack_copies_arrays_and_keeps_tuples():
    A = np.ones((2, 2))
    packed = driver.pack((A, 2.0, {"X": A}))
    assert packed["tuple"] is True and len(packed["items"]) == 3
    assert [i["kind"] for i in packed["items"]] == ["array", "float", "dict"]
    A[0, 0] = 5.0
    assert packed["items"][0]["value"][0, 0] == 1.0


def test_run_calls_copies_inputs_and_reports_what_happened():
    X = np.array([[-1.0, 2.0]])

    def relu_forward(Z):
        Z[Z < 0] = 0
        return Z, Z

    (result,) = driver.run_calls({"relu_forward": relu_forward},
                                 [{"fn": "relu_forward", "args": [X]}])
    assert X[0, 0] == -1.0                       # the spec's array is untouched
    assert result["status"] == "ok"
    assert result["arrays_after"][0][0, 0] == 0  # the learner's copy shows the change
    (missing,) = driver.run_calls({}, [{"fn": "relu_forward", "args": [X]}])
    assert missing["status"] == "missing" and missing["returned"] is None


def test_check_module_exports():
    assert set(checks.__all__) >= {"check", "run", "Report", "EXERCISES", "your_functions"}
    assert inspect.signature(check).parameters["forward"].default is None
