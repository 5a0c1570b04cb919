"""bpcourse.checks: naming the likely mistake.

Every known wrong implementation fails and gets its own hint; realistic wrong code written
here (a naive sigmoid, softmax without the max shift, a missing transpose ...) gets the hint
of its error or warning; dropout's property judge recognises its classic mistakes; and a hint
is never given to code whose values are right, nor to a different, distinguishable mistake.
"""

import re

import numpy as np
import pytest

from bpcourse.checks import EXERCISES, core, driver, report, run
from bpcourse.checks.registry import reference_functions

REF = reference_functions()


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("BPCOURSE_HOME", str(tmp_path / "bpcourse_home"))


def flat(text):
    return "".join(text.split())


def failing(rep):
    return [r for r in rep.results if not r.passed]


def hints(rep):
    return [r.hint for r in failing(rep) if r.hint]


def pattern_hint(name, regex_text):
    """The hint of exercise ``name``'s error/warning mistake whose regex mentions ``regex_text``."""
    found = [m.hint for m in EXERCISES[name].mistakes
             if regex_text in ((m.error or "") + (m.warning or ""))]
    assert len(found) == 1, (name, regex_text, found)
    return found[0]


def _slug(text):
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40]


FN_MISTAKES = [(name, i) for name, ex in EXERCISES.items()
               for i, m in enumerate(ex.mistakes) if m.fn is not None]
FN_IDS = [f"{name}-{i}-{_slug(EXERCISES[name].mistakes[i].hint)}" for name, i in FN_MISTAKES]


# ====================================================================== every known mistake

def test_there_are_mistakes_to_recognise():
    assert len(FN_MISTAKES) >= 40
    with_hints = {name for name, _ in FN_MISTAKES}
    assert with_hints >= {"dense_backward", "batchnorm_backward", "adam_step", "softmax",
                          "numerical_gradient", "cross_entropy", "sgd_momentum_step"}


@pytest.mark.parametrize("name, index", FN_MISTAKES, ids=FN_IDS)
def test_each_known_mistake_fails_with_its_own_hint(name, index):
    mistake = EXERCISES[name].mistakes[index]
    needs = {n: REF[n] for n in EXERCISES[name].needs}
    rep = run(name, {name: mistake.fn, **needs})
    assert not rep.passed and rep.status == "failed"
    assert mistake.hint in hints(rep), rep.text()
    # the learner reads it: the first failure of the verdict carries it
    assert flat("Likely mistake: " + mistake.hint) in flat(rep.text()), rep.text()


# ====================================================================== realistic wrong code: errors and warnings

def test_naive_sigmoid_overflow():
    def sigmoid_forward(Z):
        A = 1 / (1 + np.exp(-Z))
        return A, A

    rep = run("sigmoid_forward", {"sigmoid_forward": sigmoid_forward})
    assert not rep.passed and rep.score == 0.5        # fine on moderate inputs
    hint = pattern_hint("sigmoid_forward", "overflow")
    assert "overflow" in hint
    assert hints(rep) and set(hints(rep)) == {hint}
    assert all("large" in r.label for r in failing(rep))
    assert "overflow" in failing(rep)[0].message


def test_naive_tanh_with_exponentials():
    def tanh_forward(Z):
        A = (np.exp(Z) - np.exp(-Z)) / (np.exp(Z) + np.exp(-Z))
        return A, A

    rep = run("tanh_forward", {"tanh_forward": tanh_forward})
    assert not rep.passed
    hint = pattern_hint("tanh_forward", "overflow")
    assert "np.tanh" in hint
    assert set(hints(rep)) == {hint}


def test_softmax_without_the_max_shift():
    def softmax(Z):
        E = np.exp(Z)
        return E / E.sum(axis=1, keepdims=True)

    rep = run("softmax", {"softmax": softmax})
    assert not rep.passed
    assert [r.label for r in failing(rep)] == ["large logits (±1000), rows far apart: no overflow"]
    (hint,) = hints(rep)
    assert "without the max shift" in hint


def test_softmax_without_keepdims_on_non_square_logits():
    def softmax(Z):
        shifted = Z - Z.max(axis=1)
        E = np.exp(shifted)
        return E / E.sum(axis=1)

    rep = run("softmax", {"softmax": softmax})
    assert not rep.passed
    errored = [r for r in failing(rep) if r.status == "error"]
    assert errored, rep.text()
    assert "could not be broadcast" in errored[0].message
    hint = pattern_hint("softmax", "broadcast")
    assert "keepdims=True" in hint
    assert all(r.hint == hint for r in errored)


def test_dense_forward_with_w_times_x():
    def dense_forward(X, W, b):
        return W @ X + b, (X, W, b)

    rep = run("dense_forward", {"dense_forward": dense_forward})
    assert rep.score == 0.0
    hint = pattern_hint("dense_forward", "matmul")
    assert "X @ W, not W @ X" in hint
    assert set(hints(rep)) == {hint}
    assert "matmul" in failing(rep)[0].message


def test_dense_backward_with_a_missing_transpose_of_w():
    def dense_backward(dZ, cache):
        X, W, b = cache
        return dZ @ W, X.T @ dZ, dZ.sum(axis=0)

    rep = run("dense_backward", {"dense_backward": dense_backward})
    assert rep.score == 0.0
    assert set(hints(rep)) == {pattern_hint("dense_backward", "matmul")}
    assert "transpose" in hints(rep)[0]


def test_dense_backward_with_dw_transposed():
    def dense_backward(dZ, cache):
        X, W, b = cache
        return dZ @ W.T, dZ.T @ X, dZ.sum(axis=0)

    rep = run("dense_backward", {"dense_backward": dense_backward})
    assert "transpose" in failing(rep)[0].message
    assert all("missing transpose" in h for h in hints(rep)) and hints(rep)


def _cross_entropy_plain_log(P, y):
    """Handles both kinds of labels, but takes log(0) when a true class has probability 0."""
    N = P.shape[0]
    labels = y.argmax(axis=1) if y.ndim == 2 else y
    return float(-np.mean(np.log(P[np.arange(N), labels])))


def _cross_entropy_plain_log_matrix(P, y):
    N, C = P.shape
    Y = y if y.ndim == 2 else np.eye(C, dtype=P.dtype)[y]
    return float(-(Y * np.log(P)).sum() / N)


@pytest.mark.parametrize("cross_entropy", [_cross_entropy_plain_log, _cross_entropy_plain_log_matrix],
                         ids=["picking_P_n_y", "one_hot_matrix"])
def test_cross_entropy_with_a_plain_log(cross_entropy):
    rep = run("cross_entropy", {"cross_entropy": cross_entropy})
    bad = failing(rep)
    assert [r.label for r in bad] == ["a probability of exactly 0 for the true class: no log(0)"]
    hint = pattern_hint("cross_entropy", "divide by zero")
    assert "log(0)" in hint
    assert bad[0].hint == hint, bad[0]


def test_cross_entropy_that_only_handles_integer_labels():
    def cross_entropy(P, y):
        N = P.shape[0]
        picked = np.maximum(P[np.arange(N), y], np.finfo(P.dtype).tiny)
        return float(-np.log(picked).sum() / N)

    rep = run("cross_entropy", {"cross_entropy": cross_entropy})
    bad = failing(rep)
    assert [r.label for r in bad] == ["one-hot labels (N, C)"]
    assert bad[0].status == "error" and "IndexError" in bad[0].message
    assert bad[0].hint == pattern_hint("cross_entropy", "index")
    assert "one-hot" in bad[0].hint


def test_cross_entropy_clipping_at_another_small_constant_is_explained():
    """Clipping at 1e-12 is a common, sound way to avoid log(0); if the check insists on
    np.finfo(P.dtype).tiny, its verdict must say so rather than just 'loss is wrong'."""
    def cross_entropy(P, y):
        N, C = P.shape
        Y = y if y.ndim == 2 else np.eye(C)[y]
        return float(-(Y * np.log(np.clip(P, 1e-12, 1.0))).sum() / N)

    rep = run("cross_entropy", {"cross_entropy": cross_entropy})
    if not rep.passed:
        (bad,) = failing(rep)
        said = bad.message + " " + (bad.hint or "")
        assert "tiny" in said or "finfo" in said, rep.text()


def test_softmax_cross_entropy_without_the_shift():
    def softmax_cross_entropy(Z, y):
        N, C = Z.shape
        Y = y if y.ndim == 2 else np.eye(C, dtype=Z.dtype)[y]
        E = np.exp(Z)
        P = E / E.sum(axis=1, keepdims=True)
        return float(-(Y * np.log(P)).sum() / N), (P - Y) / N

    rep = run("softmax_cross_entropy", {"softmax_cross_entropy": softmax_cross_entropy})
    bad = failing(rep)
    assert [r.label for r in bad] == ["large logits (±1000): no overflow"]
    assert bad[0].hint == pattern_hint("softmax_cross_entropy", "overflow")


# ====================================================================== dropout: the property judge

def test_dropout_with_p_as_the_keep_probability():
    def dropout_forward(X, p, rng):
        keep = rng.random(X.shape) < p                  # keeps with probability p
        mask = keep.astype(X.dtype) / X.dtype.type(1 - p)
        return X * mask, mask

    rep = run("dropout_forward", {"dropout_forward": dropout_forward})
    assert not rep.passed
    assert any("probability of DROPPING" in h and "kept it with probability p" in h
               for h in hints(rep)), rep.text()
    assert re.search(r"\d+\.\d% of the units were dropped, expected about 30%", failing(rep)[0].message)


def test_dropout_with_p_as_the_keep_probability_and_scaled_by_1_over_p():
    def dropout_forward(X, p, rng):
        keep = rng.random(X.shape) < p
        mask = keep.astype(X.dtype) / X.dtype.type(p) if p else keep.astype(X.dtype)
        return X * mask, mask

    rep = run("dropout_forward", {"dropout_forward": dropout_forward})
    assert not rep.passed
    # at p = 0.5 keeping with probability p is a valid dropout: only the contract's draw tells
    assert hints(rep) and any("probability of DROPPING" in h for h in hints(rep))
    assert all("probability of DROPPING" in h or "rng.random(X.shape) >= p" in h for h in hints(rep))


def test_dropout_without_rescaling():
    def dropout_forward(X, p, rng):
        mask = (rng.random(X.shape) >= p).astype(X.dtype)
        return X * mask, mask

    rep = run("dropout_forward", {"dropout_forward": dropout_forward})
    bad = failing(rep)
    assert len(bad) == 3                                  # p = 0 keeps everything: passes
    assert all("not rescaled" in r.message for r in bad)
    assert all("1/(1 − p)" in r.hint for r in bad)


def test_dropout_scaled_by_1_over_p():
    def dropout_forward(X, p, rng):
        keep = (rng.random(X.shape) >= p).astype(X.dtype)
        mask = keep / X.dtype.type(p) if p else keep
        return X * mask, mask

    rep = run("dropout_forward", {"dropout_forward": dropout_forward})
    bad = failing(rep)
    assert [r.label for r in bad] == ["p = 0.3 on a float64 (100, 60) input",
                                      "p = 0.8 on a float64 (100, 60) input"]  # 1/0.5 = 1/(1 − 0.5)
    assert all("kept units are X/p" in r.message for r in bad)
    assert all("not 1/p" in r.hint for r in bad)


def test_dropout_drawing_from_np_random():
    def dropout_forward(X, p, rng):
        keep = np.random.random(X.shape) >= p
        mask = keep.astype(X.dtype) / X.dtype.type(1 - p)
        return X * mask, mask

    rep = run("dropout_forward", {"dropout_forward": dropout_forward})
    bad = failing(rep)
    assert len(bad) == 3
    assert all("same seed gave different masks" in r.message for r in bad)
    assert all("from the rng argument" in r.hint for r in bad)


def test_dropout_with_a_fixed_seed_of_its_own():
    def dropout_forward(X, p, rng):
        own = np.random.default_rng(0)
        keep = own.random(X.shape) >= p
        mask = keep.astype(X.dtype) / X.dtype.type(1 - p)
        return X * mask, mask

    rep = run("dropout_forward", {"dropout_forward": dropout_forward})
    assert not rep.passed
    assert any("different seeds gave the same mask" in r.message for r in failing(rep))
    assert any("rng argument" in h for h in hints(rep))


def test_dropout_caching_a_boolean_mask():
    """The cache must be the scaled mask (0 or 1/(1 − p)); a boolean keep-mask should be
    told exactly that, not only 'cache should be float64 like the inputs'."""
    def dropout_forward(X, p, rng):
        keep = rng.random(X.shape) >= p
        return X * keep / X.dtype.type(1 - p), keep

    rep = run("dropout_forward", {"dropout_forward": dropout_forward})
    bad = failing(rep)
    assert bad and not rep.passed
    said = bad[0].message + " " + (bad[0].hint or "")
    assert "mask" in said and "1/(1 − p)" in said, rep.text()


def test_dropout_caching_an_unscaled_float_mask():
    def dropout_forward(X, p, rng):
        keep = (rng.random(X.shape) >= p).astype(X.dtype)
        return X * keep / X.dtype.type(1 - p), keep

    rep = run("dropout_forward", {"dropout_forward": dropout_forward})
    bad = failing(rep)
    assert len(bad) == 3
    assert all("scaled mask" in r.message for r in bad)


def test_dropout_backward_ignoring_the_scale():
    def dropout_backward(dout, cache):
        return np.where(cache > 0, dout, 0).astype(dout.dtype)

    rep = run("dropout_backward", {"dropout_backward": dropout_backward})
    assert rep.score == 0.0
    assert set(hints(rep)) == {EXERCISES["dropout_backward"].mistakes[0].hint}


# ====================================================================== no hint for right values

@pytest.mark.parametrize("name", list(EXERCISES))
def test_no_mistake_is_recognised_in_the_reference_outputs(name):
    """A known mistake that happens to agree with the reference on a case must not be named
    there: the learner's failure on that case has another cause."""
    ex = EXERCISES[name]
    for case in report.make_cases(name, 0, {name, *ex.needs}):
        got = driver.run_calls(REF, case.calls)
        expected = case.expected if case.expected is not None else got
        assert core.judge_case(ex, case, got, REF) == (None, None), case.label
        assert core.find_mistake(ex, case, got, REF, expected) is None, case.label


def _softmax_in_place(Z):
    Z -= Z.max(axis=1, keepdims=True)
    E = np.exp(Z)
    return E / E.sum(axis=1, keepdims=True)


def _relu_backward_in_place(dA, cache):
    dA[cache <= 0] = 0
    return dA


def _adam_in_place(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m *= beta1
    m += (1 - beta1) * dw
    v *= beta2
    v += (1 - beta2) * dw * dw
    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m.copy(), v.copy()


def _batchnorm_in_place(X, gamma, beta, eps=1e-5):
    X -= X.mean(axis=0)
    X /= np.sqrt((X * X).mean(axis=0) + eps)
    return gamma * X + beta, None


@pytest.mark.parametrize("name, fn, arg", [
    ("softmax", _softmax_in_place, "Z"),
    ("relu_backward", _relu_backward_in_place, "dA"),
    ("adam_step", _adam_in_place, "m"),
    ("batchnorm_forward", _batchnorm_in_place, "X"),
], ids=["softmax", "relu_backward", "adam_step", "batchnorm_forward"])
def test_right_values_modified_in_place_get_no_mistake_hint(name, fn, arg):
    rep = run(name, {name: fn})
    bad = failing(rep)
    assert len(bad) == len(rep.results)
    assert all(f"modified its input {arg} in place" in r.message for r in bad)
    assert hints(rep) == [], rep.text()


@pytest.mark.parametrize("name", list(EXERCISES))
def test_a_correct_implementation_gets_no_hint(name):
    needs = {n: REF[n] for n in EXERCISES[name].needs}
    rep = run(name, {name: REF[name], **needs})
    assert rep.passed and all(r.hint is None and r.message is None for r in rep.results)
    assert "Likely mistake" not in rep.text()


# ====================================================================== distinguishable mistakes: their own hints

def _bn_backward(dout, cache, mean_path=True, var_path=True, var_divisor=None):
    """Batch-norm backward through the graph, with paths that can be left out."""
    X, _, mu, var, gamma, eps = cache
    N = X.shape[0]
    xc = X - mu
    std = np.sqrt(var + eps)
    X_hat = xc / std
    dX_hat = dout * gamma
    dxc = dX_hat / std
    if var_path:
        dvar = (dX_hat * xc).sum(axis=0) * -0.5 / std ** 3
        dxc = dxc + dvar * 2 * xc / (var_divisor or N)
    dX = dxc - dxc.sum(axis=0) / N if mean_path else dxc
    return dX, (dout * X_hat).sum(axis=0), dout.sum(axis=0)


BN = {m.hint: m for m in EXERCISES["batchnorm_backward"].mistakes}


def _bn_hint(word):
    found = [h for h in BN if word in h]
    assert len(found) == 1, (word, found)
    return found[0]


@pytest.mark.parametrize("kind, options, word", [
    ("shortcut", dict(mean_path=False, var_path=False), "shortcut"),
    ("no mean path", dict(var_path=True, mean_path=False), "batch mean μ is missing"),
    ("no variance path", dict(mean_path=True, var_path=False), "batch variance σ² is missing"),
    ("n - 1", "n-1", "N − 1"),
], ids=["shortcut", "no_mean_path", "no_variance_path", "n_minus_1"])
def test_batchnorm_backward_mistakes_each_get_their_own_hint(kind, options, word):
    if options == "n-1":
        def batchnorm_backward(dout, cache):
            return _bn_backward(dout, cache, var_divisor=cache[0].shape[0] - 1)
    else:
        def batchnorm_backward(dout, cache):
            return _bn_backward(dout, cache, **options)

    rep = run("batchnorm_backward", {"batchnorm_backward": batchnorm_backward})
    assert rep.score == 0.0, rep.text()
    assert set(hints(rep)) == {_bn_hint(word)}, rep.text()
    assert len(hints(rep)) == len(rep.results)


def test_the_hand_written_batchnorm_graph_is_right_with_every_path():
    rep = run("batchnorm_backward", {"batchnorm_backward": _bn_backward})
    assert rep.passed, rep.text()


@pytest.mark.parametrize("db, word", [
    (lambda dZ: dZ, "not summed over the batch"),
    (lambda dZ: dZ.sum(axis=1), "wrong axis"),
    (lambda dZ: dZ.mean(axis=0), "not the mean"),
], ids=["db_not_summed", "db_wrong_axis", "db_mean"])
def test_dense_backward_bias_mistakes_each_get_their_own_hint(db, word):
    def dense_backward(dZ, cache):
        X, W, b = cache
        return dZ @ W.T, X.T @ dZ, db(dZ)

    rep = run("dense_backward", {"dense_backward": dense_backward})
    assert not rep.passed
    assert hints(rep) and all(word in h for h in hints(rep)), rep.text()


def test_adam_without_bias_correction_written_by_hand():
    def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        m = beta1 * m + (1 - beta1) * dw
        v = beta2 * v + (1 - beta2) * dw ** 2
        return w - lr * m / (np.sqrt(v) + eps), m, v

    rep = run("adam_step", {"adam_step": adam_step})
    assert not rep.passed
    assert hints(rep) and all("without bias correction" in h for h in hints(rep))


def test_relu_backward_mask_from_z_greater_or_equal():
    def relu_backward(dA, cache):
        return dA * (cache >= 0)

    rep = run("relu_backward", {"relu_backward": relu_backward})
    bad = failing(rep)
    assert len(bad) == 2 and all("exact zeros" in r.label for r in bad)
    assert all("exactly 0" in r.hint for r in bad)


def test_dividing_both_parameter_gradients_by_N_is_named_for_both():
    """The learner divided dW AND db by N: the hint should not speak of dW alone."""
    def dense_backward(dZ, cache):
        X, W, b = cache
        N = X.shape[0]
        return dZ @ W.T, X.T @ dZ / N, dZ.sum(axis=0) / N

    rep = run("dense_backward", {"dense_backward": dense_backward})
    assert not rep.passed
    assert hints(rep) and all("no division by N" in h and "db" in h for h in hints(rep)), rep.text()
