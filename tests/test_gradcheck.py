"""bpcourse.gradcheck: numerical_gradient and rel_error, against gradients derived by hand."""

import warnings

import numpy as np
import pytest

from bpcourse import gradcheck

from helpers import SEEDS, independent_rel_error


@pytest.mark.parametrize("h", [1e-5, 1e-2, 0.5])
@pytest.mark.parametrize("seed", SEEDS)
def test_exact_on_a_quadratic(seed, h):
    """Centred differences are exact on a quadratic, for ANY step h (one-sided ones are not)."""
    rng = np.random.default_rng(seed)
    n = 6
    B = rng.normal(size=(n, n))
    A = B + B.T  # symmetric, non-diagonal: non-separable
    c = rng.normal(size=n)
    x = rng.normal(size=n)
    f = lambda v: 0.5 * v @ A @ v + c @ v + 3.0  # noqa: E731
    grad = gradcheck.numerical_gradient(f, x, h=h)
    np.testing.assert_allclose(grad, A @ x + c, rtol=1e-8, atol=1e-8)


def test_centred_difference_error_on_a_cubic_is_h_squared():
    """For f = Σ x³, (f(x+h) − f(x−h)) / 2h = 3x² + h² exactly: the O(h²) error of centred differences."""
    x = np.array([[-1.5, 0.0], [0.25, 2.0]])
    h = 1e-2
    grad = gradcheck.numerical_gradient(lambda v: np.sum(v ** 3), x, h=h)
    np.testing.assert_allclose(grad, 3 * x ** 2 + h ** 2, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("seed", SEEDS)
def test_non_separable_pairwise_products(seed):
    """f(x) = Σᵢ Σⱼ xᵢ xⱼ = (Σ x)²: every partial derivative is 2 Σ x."""
    x = np.random.default_rng(seed).normal(size=(3, 4))
    flat = x.ravel()
    f = lambda v: sum(a * b for a in v.ravel() for b in v.ravel())  # noqa: E731
    grad = gradcheck.numerical_gradient(f, x)
    assert grad.shape == x.shape
    np.testing.assert_allclose(grad, np.full(x.shape, 2 * flat.sum()), rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
def test_non_separable_log_sum_exp(seed):
    """∂/∂xᵢ log Σⱼ e^xⱼ = softmax(x)ᵢ, on a 2-D array (multi-dimensional indexing)."""
    x = np.random.default_rng(seed).normal(size=(2, 5)) * 2
    grad = gradcheck.numerical_gradient(lambda v: np.log(np.exp(v).sum()), x)
    expected = np.exp(x) / np.exp(x).sum()
    assert independent_rel_error(grad, expected) < 1e-9


def test_does_not_modify_x_and_keeps_shape_and_dtype():
    x = np.random.default_rng(0).normal(size=(3, 2))
    before = x.copy()
    seen = []

    def f(v):
        assert v is not x, "f must be given a copy of x, not x itself"
        seen.append(v.copy())
        return float(np.sum(v ** 2))

    grad = gradcheck.numerical_gradient(f, x)
    np.testing.assert_array_equal(x, before)
    assert grad.shape == x.shape and grad.dtype == np.float64
    # every evaluation perturbs exactly one entry, by ±h
    assert len(seen) == 2 * x.size
    for v in seen:
        diff = (v - x).ravel()
        assert np.count_nonzero(diff) == 1
        assert abs(np.abs(diff).max() - 1e-5) < 1e-12


@pytest.mark.parametrize("layout", ["C", "transposed", "fortran", "strided"])
def test_memory_layout_of_x_does_not_matter(layout):
    """A transposed (e.g. W.T), Fortran-ordered or strided x gets the same gradient as a C array."""
    A = np.random.default_rng(0).normal(size=(4, 3))
    x = {"C": np.ascontiguousarray(A.T), "transposed": A.T, "fortran": np.asfortranarray(A.T),
         "strided": np.random.default_rng(1).normal(size=(3, 8))[:, ::2]}[layout]
    weights = np.arange(1, 13).reshape(3, 4)
    before = x.copy()
    grad = gradcheck.numerical_gradient(lambda v: np.sum(v ** 2 * weights), x)
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(grad, 2 * x * weights, rtol=1e-8)


def test_warns_in_float32_but_not_in_float64():
    x32 = np.array([1.0, 2.0], dtype=np.float32)
    with pytest.warns(UserWarning, match="inaccurate; check gradients in float64"):
        grad = gradcheck.numerical_gradient(lambda v: float(np.sum(v ** 2)), x32, h=1e-2)
    assert grad.dtype == np.float32
    np.testing.assert_allclose(grad, [2.0, 4.0], rtol=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gradcheck.numerical_gradient(lambda v: float(np.sum(v ** 2)), x32.astype(np.float64))


def test_f_returning_a_non_scalar_is_rejected():
    with pytest.raises(ValueError, match=r"f must return a scalar \(e\.g\. the loss\), got an array "
                                         r"of shape \(3,\)"):
        gradcheck.numerical_gradient(lambda v: v * 2, np.ones(3))


def test_numerical_gradient_bad_arguments():
    with pytest.raises(TypeError, match=r"got dtype int64; convert it with x\.astype\(np\.float64\)"):
        gradcheck.numerical_gradient(np.sum, np.arange(3))
    with pytest.raises(ValueError, match="h must be positive"):
        gradcheck.numerical_gradient(np.sum, np.ones(3), h=0)


def test_rel_error_values():
    a = np.array([3.0, 4.0])
    assert gradcheck.rel_error(a, a) == 0.0
    assert gradcheck.rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert gradcheck.rel_error(a, -a) == pytest.approx(1.0, rel=1e-15)
    # ‖(1,0) − (0,1)‖ / (1 + 1) = √2 / 2
    assert gradcheck.rel_error(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(
        np.sqrt(2) / 2, rel=1e-15)
    # ‖(3,4) − (3,4.5)‖ / (5 + √29.25)
    b = np.array([3.0, 4.5])
    assert gradcheck.rel_error(a, b) == pytest.approx(0.5 / (5 + np.sqrt(29.25)), rel=1e-14)
    assert gradcheck.rel_error(b, a) == gradcheck.rel_error(a, b)
    assert isinstance(gradcheck.rel_error(a, b), float)
    # scale invariant, and well defined in float32 too
    assert gradcheck.rel_error(1e-20 * a, 1e-20 * b) == pytest.approx(gradcheck.rel_error(a, b), rel=1e-12)
    assert gradcheck.rel_error(a.astype(np.float32), b.astype(np.float32)) == pytest.approx(
        gradcheck.rel_error(a, b), rel=1e-6)


def test_rel_error_does_not_modify_inputs():
    a, b = np.array([1.0, 2.0]), np.array([1.5, 2.0])
    a0, b0 = a.copy(), b.copy()
    gradcheck.rel_error(a, b)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)


def test_rel_error_on_mismatched_shapes():
    with pytest.raises(ValueError, match=r"a must have the same shape as b \(3, 2\), got \(2, 3\)"):
        gradcheck.rel_error(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="same shape"):
        gradcheck.rel_error(np.zeros(3), np.zeros(1))  # no silent broadcasting
