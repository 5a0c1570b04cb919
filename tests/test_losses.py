"""bpcourse.losses: softmax, cross_entropy, softmax_cross_entropy."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from bpcourse import gradcheck, losses

from helpers import (
    DTYPES, M, N, SEEDS, TOL, assert_dtype, assert_gradient, assert_gradient_independently,
    call_pure, no_warnings,
)

C = M  # classes


def _softmax(Z):
    """Reference softmax, float64, for moderate logits."""
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def _onehot(y, C):
    Y = np.zeros((len(y), C))
    Y[np.arange(len(y)), y] = 1
    return Y


def _logit_arrays(dtype, elements, max_rows=6, max_cols=6):
    return arrays(dtype, st.tuples(st.integers(1, max_rows), st.integers(1, max_cols)),
                  elements=elements)


finite = {np.float64: st.floats(allow_nan=False, allow_infinity=False, width=64),
          np.float32: st.floats(allow_nan=False, allow_infinity=False, width=32)}
# huge magnitudes (±1e300 / ±1e30) mixed with ordinary ones
huge = {np.float64: st.one_of(st.floats(-1e300, 1e300), st.floats(-10, 10)),
        np.float32: st.one_of(st.floats(-1.0000000150474662e30, 1.0000000150474662e30, width=32), st.floats(-10, 10, width=32))}


# =============================================================== values

def test_softmax_values():
    Z = np.array([[0.0, 0.0], [0.0, np.log(3.0)], [1.0, 2.0]])
    P = losses.softmax(Z)
    np.testing.assert_allclose(P[0], [0.5, 0.5], rtol=1e-15)
    np.testing.assert_allclose(P[1], [0.25, 0.75], rtol=1e-15)
    np.testing.assert_allclose(P[2], [1 / (1 + np.e), np.e / (1 + np.e)], rtol=1e-15)


@pytest.mark.parametrize("seed", SEEDS)
def test_cross_entropy_value_integer_and_onehot(seed):
    rng = np.random.default_rng(seed)
    P = rng.uniform(0.05, 1, size=(N, C))
    P /= P.sum(axis=1, keepdims=True)
    y = rng.integers(0, C, size=N)
    expected = -np.mean([np.log(P[n, y[n]]) for n in range(N)])  # mean over the batch
    assert isinstance(losses.cross_entropy(P, y), float)
    assert losses.cross_entropy(P, y) == pytest.approx(expected, rel=1e-13)
    assert losses.cross_entropy(P, _onehot(y, C)) == pytest.approx(expected, rel=1e-13)


def test_softmax_cross_entropy_hand_computed():
    # log-sum-exp of (1000, 0) is 1000 + log(1 + e^-1000) = 1000: loss of the wrong class is 1000
    loss, dZ = losses.softmax_cross_entropy(np.array([[1000.0, 0.0]]), np.array([1]))
    assert loss == pytest.approx(1000.0, rel=1e-15)
    np.testing.assert_allclose(dZ, [[1.0, -1.0]], atol=1e-300)
    # uniform logits over 4 classes: loss log 4, dZ = (1/4 − onehot) / N
    loss, dZ = losses.softmax_cross_entropy(np.zeros((2, 4)), np.array([0, 3]))
    assert loss == pytest.approx(np.log(4), rel=1e-15)
    np.testing.assert_allclose(dZ, [[-0.375, 0.125, 0.125, 0.125], [0.125, 0.125, 0.125, -0.375]],
                               rtol=1e-15)


@pytest.mark.parametrize("seed", SEEDS)
def test_softmax_cross_entropy_dZ_formula(seed):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(N, C)) * 3
    y = rng.integers(0, C, size=N)
    loss, dZ = losses.softmax_cross_entropy(Z, y)
    P = _softmax(Z)
    assert loss == pytest.approx(-np.log(P[np.arange(N), y]).mean(), rel=1e-12)
    np.testing.assert_allclose(dZ, (P - _onehot(y, C)) / N, rtol=1e-12, atol=1e-15)


# =============================================================== gradient check of dZ

@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("labels", ["integer", "one-hot", "soft"])
def test_softmax_cross_entropy_gradcheck(labels, seed):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(N, C)) * 2
    y = rng.integers(0, C, size=N)
    if labels == "one-hot":
        y = _onehot(y, C)
    elif labels == "soft":
        y = rng.uniform(0.1, 1, size=(N, C))
        y /= y.sum(axis=1, keepdims=True)
    _, dZ = losses.softmax_cross_entropy(Z, y)
    assert_gradient(dZ, lambda v: losses.softmax_cross_entropy(v, y)[0], Z, "dZ")


@pytest.mark.parametrize("seed", SEEDS)
def test_softmax_cross_entropy_independent_gradcheck(seed):
    """Scaled by a random non-trivial factor (upstream gradient of the scalar loss)."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(N, C)) * 2
    y = rng.integers(0, C, size=N)
    g = rng.uniform(0.5, 2.0)
    _, dZ = losses.softmax_cross_entropy(Z, y)
    plain_loss = lambda Z: -np.log(_softmax(Z)[np.arange(N), y]).mean()  # noqa: E731
    assert_gradient_independently(g * dZ, lambda v: g * plain_loss(v), Z, "dZ")


# =============================================================== purity and dtypes

def _loss_calls(dtype):
    rng = np.random.default_rng(0)
    Z = (rng.normal(size=(N, C)) * 2).astype(dtype)
    P = _softmax(Z.astype(np.float64)).astype(dtype)
    y = rng.integers(0, C, size=N)
    Y = _onehot(y, C).astype(dtype)
    return {
        "softmax": (losses.softmax, (Z,)),
        "cross_entropy int": (losses.cross_entropy, (P, y)),
        "cross_entropy onehot": (losses.cross_entropy, (P, Y)),
        "softmax_cross_entropy int": (losses.softmax_cross_entropy, (Z, y)),
        "softmax_cross_entropy onehot": (losses.softmax_cross_entropy, (Z, Y)),
    }


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(_loss_calls(np.float64)))
def test_loss_function_is_pure_and_keeps_dtype(name, dtype):
    fn, args = _loss_calls(dtype)[name]
    result = call_pure(fn, *args)
    if name == "softmax":
        assert_dtype(result, dtype, name)
    elif name.startswith("cross_entropy"):
        assert isinstance(result, float)
    else:
        loss, dZ = result
        assert isinstance(loss, float)
        assert_dtype(dZ, dtype, name)


def test_float64_onehot_labels_do_not_promote_float32_logits():
    Z = np.zeros((2, 3), np.float32)
    _, dZ = losses.softmax_cross_entropy(Z, np.eye(3)[:2])
    assert dZ.dtype == np.float32


# =============================================================== properties (hypothesis)

@settings(max_examples=80, deadline=None)
@given(st.data(), st.sampled_from(DTYPES), st.booleans())
def test_softmax_rows_sum_to_one_for_any_finite_input(data, dtype, full_range):
    Z = data.draw(_logit_arrays(dtype, finite[dtype] if full_range else huge[dtype]))
    with no_warnings():
        P = losses.softmax(Z)
    assert P.dtype == dtype and P.shape == Z.shape
    assert np.all(np.isfinite(P))
    assert np.all((P >= 0) & (P <= 1))
    np.testing.assert_allclose(P.sum(axis=1), 1, rtol=0, atol=4 * Z.shape[1] * np.finfo(dtype).eps)
    # the largest logit of each row gets the largest probability
    rows = np.arange(Z.shape[0])
    assert np.all(P[rows, Z.argmax(axis=1)] == P.max(axis=1))


LATTICE = {  # (mantissa bound, exponent range): a·2^e + c·2^e is exact in the dtype
    np.float64: (2**50, (-60, 970)),
    np.float32: (2**21, (-30, 100)),
}


@settings(max_examples=80, deadline=None)
@given(st.data(), st.sampled_from(DTYPES))
def test_softmax_invariant_to_a_constant_per_row_huge_magnitudes(data, dtype):
    """Logits a·2^e and a constant c·2^e per row, integers a, c: Z + c is exact even at 1e300,
    so softmax(Z + c) must equal softmax(Z)."""
    bound, (lo, hi) = LATTICE[dtype]
    shape = data.draw(st.tuples(st.integers(1, 5), st.integers(1, 6)))
    ints = st.integers(-bound, bound)
    a = data.draw(arrays(np.int64, shape, elements=ints))
    c = data.draw(arrays(np.int64, (shape[0], 1), elements=ints))
    e = data.draw(st.integers(lo, hi))
    scale = dtype(2.0) ** e
    Z = a.astype(dtype) * scale
    Zc = (a + c).astype(dtype) * scale
    assert Z.dtype == dtype and np.all(np.isfinite(Zc))
    with no_warnings():
        P, Pc = losses.softmax(Z), losses.softmax(Zc)
    np.testing.assert_allclose(Pc, P, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=0)


@settings(max_examples=80, deadline=None)
@given(st.data(), st.sampled_from(DTYPES))
def test_softmax_invariant_to_a_constant_per_row(data, dtype):
    w = 32 if dtype == np.float32 else 64
    Z = data.draw(_logit_arrays(dtype, st.floats(-20, 20, width=w)))
    c = data.draw(arrays(dtype, (Z.shape[0], 1), elements=st.floats(-100, 100, width=w)))
    with no_warnings():
        P, Pc = losses.softmax(Z), losses.softmax(Z + c)
    rtol = 2e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(Pc, P, rtol=rtol, atol=1e-30)
    # and both agree with a float64 reference softmax
    np.testing.assert_allclose(P, _softmax(Z.astype(np.float64)), rtol=rtol / 4, atol=1e-30)


@settings(max_examples=60, deadline=None)
@given(st.data(), st.sampled_from(DTYPES))
def test_cross_entropy_never_takes_log_of_zero(data, dtype):
    """P with exact zeros (even at the true class) gives a finite loss and no warning."""
    w = 32 if dtype == np.float32 else 64
    P = data.draw(_logit_arrays(dtype, st.one_of(st.just(0.0), st.floats(0, 1, width=w)), 5, 5))
    P[:, 0] = np.where(P.sum(axis=1) == 0, 1, P[:, 0])
    P = (P / P.sum(axis=1, keepdims=True)).astype(dtype)
    y = data.draw(arrays(np.int64, P.shape[0], elements=st.integers(0, P.shape[1] - 1)))
    with no_warnings():
        loss = losses.cross_entropy(P, y)
    assert isinstance(loss, float) and np.isfinite(loss) and loss >= 0


def test_cross_entropy_zero_probability_at_the_label_is_large_but_finite():
    for dtype in DTYPES:
        P = np.array([[0.0, 1.0]], dtype=dtype)
        with no_warnings():
            loss = losses.cross_entropy(P, np.array([0]))
        # −log of a tiny positive float (≈ 708 in float64, ≈ 87 in float32), never inf
        assert np.isfinite(loss) and loss > 80


@settings(max_examples=80, deadline=None)
@given(st.data(), st.sampled_from(DTYPES))
def test_softmax_cross_entropy_equals_cross_entropy_of_softmax(data, dtype):
    w = 32 if dtype == np.float32 else 64
    Z = data.draw(_logit_arrays(dtype, st.floats(-30, 30, width=w)))
    y = data.draw(arrays(np.int64, Z.shape[0], elements=st.integers(0, Z.shape[1] - 1)))
    Y = np.zeros(Z.shape, dtype=dtype)
    Y[np.arange(Z.shape[0]), y] = 1
    with no_warnings():
        fused, dZ = losses.softmax_cross_entropy(Z, y)
        fused_onehot, dZ_onehot = losses.softmax_cross_entropy(Z, Y)
        two_step = losses.cross_entropy(losses.softmax(Z), y)
    rtol, atol = (1e-4, 1e-5) if dtype == np.float32 else (1e-10, 1e-12)
    assert fused == pytest.approx(two_step, rel=rtol, abs=atol)
    assert fused_onehot == pytest.approx(fused, rel=1e-6 if dtype == np.float32 else 1e-14, abs=1e-12)
    np.testing.assert_allclose(dZ_onehot, dZ, rtol=rtol, atol=atol)
    # dZ rows sum to 0 (softmax rows and one-hot rows both sum to 1)
    np.testing.assert_allclose(dZ.sum(axis=1), 0, atol=10 * np.finfo(dtype).eps)


@settings(max_examples=60, deadline=None)
@given(st.data(), st.sampled_from(DTYPES))
def test_softmax_cross_entropy_finite_for_huge_logits(data, dtype):
    Z = data.draw(_logit_arrays(dtype, huge[dtype]))
    y = data.draw(arrays(np.int64, Z.shape[0], elements=st.integers(0, Z.shape[1] - 1)))
    with no_warnings():
        loss, dZ = losses.softmax_cross_entropy(Z, y)
    assert np.isfinite(loss) and loss >= 0
    assert dZ.dtype == dtype and np.all(np.isfinite(dZ))
    assert np.all(np.abs(dZ) <= 1 / Z.shape[0] + np.finfo(dtype).eps)


# =============================================================== bad input

def _Z():
    return np.random.default_rng(0).normal(size=(N, C))


@pytest.mark.parametrize("fn", [losses.softmax,
                                lambda Z: losses.cross_entropy(Z, np.zeros(N, int)),
                                lambda Z: losses.softmax_cross_entropy(Z, np.zeros(N, int))],
                         ids=["softmax", "cross_entropy", "softmax_cross_entropy"])
def test_integer_inputs_are_rejected(fn):
    with pytest.raises(TypeError, match=r"got dtype int64; convert it with \w\.astype\(np\.float64\)"):
        fn(np.ones((N, C), dtype=np.int64))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_logits_are_rejected(bad):
    Z = _Z()
    Z[2, 1] = bad
    with pytest.raises(ValueError, match="Z contains NaN or infinite values"):
        losses.softmax(Z)
    with pytest.raises(ValueError, match="Z contains NaN or infinite values.*diverged"):
        losses.softmax_cross_entropy(Z, np.zeros(N, int))


@pytest.mark.parametrize("fn", [losses.cross_entropy, losses.softmax_cross_entropy])
@pytest.mark.parametrize("y, bad", [([0, 1, 3, 2, 0], 3), ([0, -1, 2, 2, 0], -1)])
def test_labels_out_of_range_name_the_label_and_the_range(fn, y, bad):
    Z = _softmax(_Z())
    with pytest.raises(ValueError, match=rf"labels in y must be in \[0, 2\] for 3 classes, got {bad}"):
        fn(Z, np.array(y))


@pytest.mark.parametrize("fn", [losses.cross_entropy, losses.softmax_cross_entropy])
def test_labels_of_the_wrong_length(fn):
    with pytest.raises(ValueError, match=r"y must have shape \(5,\) \(one label per row\), got \(4,\)"):
        fn(_softmax(_Z()), np.zeros(4, int))


@pytest.mark.parametrize("fn", [losses.cross_entropy, losses.softmax_cross_entropy])
def test_non_integer_labels(fn):
    with pytest.raises(TypeError, match=r"integer dtype, got float64; use y\.astype\(int\)"):
        fn(_softmax(_Z()), np.array([0.0, 1.0, 2.0, 1.0, 0.0]))
    with pytest.raises(TypeError, match="numpy array of integer labels, got list"):
        fn(_softmax(_Z()), [0, 1, 2, 1, 0])


def test_bad_onehot_labels():
    P = _softmax(_Z())
    with pytest.raises(ValueError, match=r"one-hot labels y must have shape \(5, 3\), got \(5, 4\)"):
        losses.cross_entropy(P, np.eye(5)[:, :4])
    with pytest.raises(ValueError, match="rows summing to 1"):
        losses.softmax_cross_entropy(_Z(), 2 * _onehot(np.zeros(N, int), C))


@pytest.mark.parametrize("make", [lambda Z: Z, lambda Z: np.abs(Z) / 10, lambda Z: -_softmax(Z)],
                         ids=["logits", "rows not summing to 1", "negative"])
def test_cross_entropy_rejects_non_probabilities_and_mentions_logits(make):
    with pytest.raises(ValueError, match=r"P must hold probabilities.*if you have logits, "
                                         r"use softmax\(Z\) first"):
        losses.cross_entropy(make(_Z()), np.zeros(N, int))


def test_logits_must_be_two_dimensional():
    with pytest.raises(ValueError, match=r"Z must have shape \(N, C\), got shape \(3,\)"):
        losses.softmax(np.zeros(3))
