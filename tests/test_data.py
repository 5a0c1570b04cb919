"""Tests for bpcourse.data: bundled digits, 2-D toy sets, batching helpers."""

import hashlib

import numpy as np
import pytest

from bpcourse.data import (
    DIGITS_ATTRIBUTION,
    Standardizer,
    digits_info,
    load_digits,
    make_blobs,
    make_moons,
    make_spirals,
    make_xor,
    minibatches,
    one_hot,
    stratified_split,
)
from bpcourse.data.digits import _raw_digits

DIGIT_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]  # from sklearn's digits.csv.gz


# --------------------------------------------------------------------------- digits

def test_bundled_digits_file_is_the_expected_data():
    images, labels = _raw_digits()
    assert images.shape == (1797, 8, 8) and images.dtype == np.uint8
    assert labels.shape == (1797,) and labels.dtype == np.uint8
    assert np.bincount(labels).tolist() == DIGIT_COUNTS
    assert images.max() == 16 and images.min() == 0
    # digests recorded in DIGITS_LICENSE.txt, computed when converting the CSV
    assert hashlib.sha256(images.tobytes()).hexdigest() == (
        "8f26b2bd9d135c256808f68f14fdabddde6d9c7f869ae419704b051f0f14b3b3")
    assert hashlib.sha256(labels.tobytes()).hexdigest() == (
        "8ba4f891220f5e4c9c819638d1602d74b83618f167043c6da52a2a247841ddf0")


def test_load_digits_shapes_dtypes_ranges():
    (X_tr, y_tr), (X_te, y_te) = load_digits()
    assert X_tr.shape == (1438, 64) and X_te.shape == (359, 64)
    assert X_tr.dtype == np.float32 and X_te.dtype == np.float32
    assert y_tr.dtype == np.int64 and y_te.dtype == np.int64 and y_tr.shape == (1438,)
    assert X_tr.min() == 0.0 and X_tr.max() == 1.0
    assert set(np.unique(y_tr)) == set(range(10)) == set(np.unique(y_te))
    assert np.bincount(np.concatenate([y_tr, y_te])).tolist() == DIGIT_COUNTS


def test_load_digits_options():
    (X_tr, y_tr), (X_te, _) = load_digits(flatten=False, scale=False, dtype=np.float64)
    assert X_tr.shape == (1438, 8, 8) and X_te.shape == (359, 8, 8)
    assert X_tr.dtype == np.float64 and X_tr.max() == 16.0
    assert np.array_equal(X_tr, np.round(X_tr))  # raw counts 0..16
    (X_flat, y_flat), _ = load_digits(dtype=np.float64)
    assert np.array_equal(y_flat, y_tr)
    np.testing.assert_array_equal(X_flat, X_tr.reshape(-1, 64) / 16)


def test_load_digits_images_match_their_labels():
    # the same image must keep its label through the split: look each split image up in the raw data
    images, labels = _raw_digits()
    (X_tr, y_tr), _ = load_digits(scale=False, flatten=True, dtype=np.float64)
    raw = {row.tobytes(): lab for row, lab in zip(images.reshape(-1, 64).astype(np.float64), labels)}
    hits = [raw.get(x.tobytes()) == y for x, y in zip(X_tr[:200], y_tr[:200])]
    assert all(hits)


@pytest.mark.parametrize("test_size", [0.2, 0.33, 0.5, 0.1])
def test_load_digits_is_stratified(test_size):
    (_, y_tr), (_, y_te) = load_digits(test_size=test_size)
    counts = np.array(DIGIT_COUNTS)
    assert np.all(np.abs(np.bincount(y_te, minlength=10) - test_size * counts) <= 1)
    assert np.all(np.abs(np.bincount(y_tr, minlength=10) - (1 - test_size) * counts) <= 1)


def test_load_digits_is_shuffled_and_deterministic():
    (a_tr, ay_tr), (a_te, _) = load_digits(seed=0)
    (b_tr, by_tr), (b_te, _) = load_digits(seed=0)
    (c_tr, cy_tr), _ = load_digits(seed=1)
    assert np.array_equal(a_tr, b_tr) and np.array_equal(a_te, b_te) and np.array_equal(ay_tr, by_tr)
    assert not np.array_equal(a_tr, c_tr)
    assert not np.array_equal(ay_tr, np.sort(ay_tr))  # not grouped by class
    (d_tr, _), _ = load_digits(seed=np.random.default_rng(0))
    assert d_tr.shape == a_tr.shape


def test_stratified_split_partitions_indices():
    _, labels = _raw_digits()
    tr, te = stratified_split(labels, test_size=0.25, seed=3)
    assert tr.dtype == np.int64
    assert len(np.intersect1d(tr, te)) == 0
    assert np.array_equal(np.sort(np.concatenate([tr, te])), np.arange(1797))


def test_load_digits_does_not_share_memory_with_bundled_arrays():
    (X, _), _ = load_digits(scale=False)
    X[:] = -1
    (X2, _), _ = load_digits(scale=False)
    assert X2.min() == 0


def test_digits_attribution_text():
    text = digits_info()
    for needed in ["Alpaydin", "Kaynak", "CC BY 4.0", "10.24432/C50P49", "scikit-learn",
                   "https://archive.ics.uci.edu/dataset/80/optical+recognition+of+handwritten+digits"]:
        assert needed in text
    assert "CC BY 4.0" in DIGITS_ATTRIBUTION and "Alpaydin" in DIGITS_ATTRIBUTION


@pytest.mark.parametrize("kwargs, error, match", [
    ({"test_size": 1.5}, ValueError, r"test_size must be strictly between 0 and 1, got 1.5"),
    ({"test_size": 0}, ValueError, r"strictly between 0 and 1, got 0"),
    ({"test_size": "0.2"}, TypeError, r"test_size must be a number.*got '0.2'"),
    ({"test_size": 1e-6}, ValueError, r"leaves an empty train or test set"),
    ({"seed": -1}, ValueError, r"seed must be a non-negative int, got -1"),
    ({"seed": "zero"}, TypeError, r"seed must be an int, a numpy.random.Generator, got 'zero'"),
    ({"seed": 1.0}, TypeError, r"seed must be an int"),
    ({"dtype": np.int32}, TypeError, r"dtype must be np.float32 or np.float64"),
    ({"flatten": "yes"}, TypeError, r"flatten must be True or False, got 'yes'"),
    ({"scale": 1}, TypeError, r"scale must be True or False, got 1"),
])
def test_load_digits_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        load_digits(**kwargs)


def test_stratified_split_rejects_bad_labels():
    with pytest.raises(TypeError, match=r"y must be a 1-D numpy array of integer labels, got shape \(2, 2\)"):
        stratified_split(np.zeros((2, 2), dtype=int))
    with pytest.raises(TypeError, match=r"got list"):
        stratified_split([0, 1, 0, 1])


# --------------------------------------------------------------------------- toy sets

TOYS = [make_spirals, make_moons, make_xor, make_blobs]


@pytest.mark.parametrize("make, n, k", [(make_spirals, 300, 3), (make_moons, 200, 2),
                                        (make_xor, 200, 2), (make_blobs, 300, 3)])
def test_toy_defaults(make, n, k):
    X, y = make()
    assert X.shape == (n, 2) and X.dtype == np.float32
    assert y.shape == (n,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [n // k] * k
    assert np.isfinite(X).all()
    assert not np.array_equal(y, np.sort(y))  # shuffled
    assert make(dtype=np.float64)[0].dtype == np.float64


@pytest.mark.parametrize("make", TOYS)
def test_toy_balance_with_odd_sizes(make):
    X, y = make(n_samples=101)
    counts = np.bincount(y)
    assert len(X) == 101 and counts.sum() == 101 and counts.max() - counts.min() <= 1


@pytest.mark.parametrize("make", TOYS)
def test_toy_determinism(make):
    X1, y1 = make(seed=5)
    X2, y2 = make(seed=5)
    X3, _ = make(seed=6)
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)
    assert not np.array_equal(X1, X3)
    X4, _ = make(seed=np.random.default_rng(5))
    assert X4.shape == X1.shape


def _spiral_arm(X, n_classes):
    """Which arm's angle 4k + 4r is closest to the point's angle (mod 2 pi)."""
    r = np.hypot(X[:, 0], X[:, 1])
    angle = np.arctan2(X[:, 0], X[:, 1])
    arms = 4.0 * np.arange(n_classes)[None, :] + 4.0 * r[:, None]
    diff = np.angle(np.exp(1j * (angle[:, None] - arms)))
    return np.argmin(np.abs(diff), axis=1), r


def test_spirals_points_lie_on_their_arm():
    X, y = make_spirals(noise=0.0, dtype=np.float64)
    arm, r = _spiral_arm(X, 3)
    far = r > 0.05  # near the centre all arms meet
    assert np.array_equal(arm[far], y[far])
    assert r.max() == pytest.approx(1.0)
    Xn, yn = make_spirals()  # default noise: still mostly on the right arm
    arm, r = _spiral_arm(Xn.astype(np.float64), 3)
    assert np.mean(arm[r > 0.05] == yn[r > 0.05]) > 0.95
    X5, y5 = make_spirals(n_samples=250, n_classes=5)
    assert X5.shape == (250, 2) and np.bincount(y5).tolist() == [50] * 5


def test_moons_shape_and_separation():
    X, y = make_moons(noise=0.0, dtype=np.float64)
    upper, lower = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0)
    assert upper[:, 1].min() >= 0 and lower[:, 1].max() <= 0.5
    Xn, yn = make_moons()
    m0, m1 = Xn[yn == 0].mean(0), Xn[yn == 1].mean(0)
    assert m1[0] - m0[0] > 0.8 and m0[1] - m1[1] > 0.4


def test_xor_labels_follow_quadrants():
    X, y = make_xor(noise=0.0, dtype=np.float64)
    same_sign = X[:, 0] * X[:, 1] > 0
    assert np.array_equal(y == 0, same_sign)
    assert np.abs(X).max() <= 1.0
    Xn, yn = make_xor()
    assert np.mean((Xn[:, 0] * Xn[:, 1] > 0) == (yn == 0)) > 0.85
    # no line separates XOR: class means are both near the origin
    assert np.abs(Xn[yn == 0].mean(0)).max() < 0.2 and np.abs(Xn[yn == 1].mean(0)).max() < 0.2


def test_blobs_separation_and_custom_centers():
    X, y = make_blobs()
    means = np.array([X[y == k].mean(0) for k in range(3)])
    nearest = np.argmin(((X[:, None, :] - means[None]) ** 2).sum(-1), axis=1)
    assert np.mean(nearest == y) > 0.95
    np.testing.assert_allclose(np.linalg.norm(means, axis=1), 5.0, atol=0.4)
    centers = np.array([[-3.0, 0.0], [3.0, 0.0], [0.0, 10.0], [0.0, -10.0]])
    X, y = make_blobs(n_samples=400, centers=centers, std=0.1)
    assert np.bincount(y).tolist() == [100] * 4
    for k in range(4):
        np.testing.assert_allclose(X[y == k].mean(0), centers[k], atol=0.05)
        assert X[y == k].std(0).max() < 0.15
    X, y = make_blobs(n_samples=10, centers=[[0, 0], [1, 1]], std=0.0)
    assert np.array_equal(X[y == 1], np.ones((5, 2), dtype=np.float32))


@pytest.mark.parametrize("make, kwargs, error, match", [
    (make_spirals, {"n_samples": 2, "n_classes": 3}, ValueError, r"n_samples must be an int >= 3, got 2"),
    (make_spirals, {"n_classes": 1}, ValueError, r"n_classes must be an int >= 2, got 1"),
    (make_spirals, {"n_samples": 10.0}, TypeError, r"n_samples must be an int >= 3, got 10.0"),
    (make_moons, {"noise": -0.1}, ValueError, r"noise must be a finite number >= 0, got -0.1"),
    (make_moons, {"noise": "a lot"}, TypeError, r"noise must be a number >= 0, got 'a lot'"),
    (make_xor, {"n_samples": 1}, ValueError, r"n_samples must be an int >= 2, got 1"),
    (make_xor, {"seed": "s"}, TypeError, r"seed must be an int"),
    (make_blobs, {"centers": np.zeros((3, 3))}, ValueError, r"centers must be an int or a finite array of shape \(K, 2\), got shape \(3, 3\)"),
    (make_blobs, {"centers": 0}, ValueError, r"centers must be an int >= 1, got 0"),
    (make_blobs, {"std": -1}, ValueError, r"std must be a finite number >= 0"),
    (make_blobs, {"dtype": "int8"}, TypeError, r"dtype must be np.float32 or np.float64, got 'int8'"),
])
def test_toy_errors(make, kwargs, error, match):
    with pytest.raises(error, match=match):
        make(**kwargs)


# --------------------------------------------------------------------------- one_hot

def test_one_hot_values_and_round_trip():
    y = np.array([2, 0, 1, 2])
    Y = one_hot(y)
    assert Y.shape == (4, 3) and Y.dtype == np.float32
    np.testing.assert_array_equal(Y, [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    assert np.array_equal(Y.argmax(axis=1), y)
    Y10 = one_hot(y, num_classes=10, dtype=np.float64)
    assert Y10.shape == (4, 10) and Y10.dtype == np.float64 and Y10.sum() == 4
    assert one_hot(np.array([], dtype=np.int64), num_classes=3).shape == (0, 3)
    assert one_hot([1, 0]).shape == (2, 2)  # lists are accepted
    _, (_, y_te) = load_digits()
    assert np.array_equal(one_hot(y_te).argmax(1), y_te)


@pytest.mark.parametrize("y, kwargs, error, match", [
    (np.array([0.0, 1.0]), {}, TypeError, r"y must hold integer class labels, got dtype float64; convert it with y.astype\(np.int64\)"),
    (np.array([True, False]), {}, TypeError, r"integer class labels, got dtype bool"),
    (np.array([[0, 1]]), {}, ValueError, r"y must have shape \(N,\), got shape \(1, 2\)"),
    (np.array([0, 3]), {"num_classes": 3}, ValueError, r"labels must be in \[0, 3\) for num_classes=3, got a label 3"),
    (np.array([0, -1]), {}, ValueError, r"labels must be in \[0, 1\).*got a label -1"),
    (np.array([], dtype=int), {}, ValueError, r"y is empty: pass num_classes"),
    (np.array([0, 1]), {"num_classes": 0}, ValueError, r"num_classes must be an int >= 1, got 0"),
    (np.array([0, 1]), {"dtype": np.int64}, TypeError, r"dtype must be np.float32 or np.float64"),
])
def test_one_hot_errors(y, kwargs, error, match):
    with pytest.raises(error, match=match):
        one_hot(y, **kwargs)


# --------------------------------------------------------------------------- minibatches

def _data(n=10):
    X = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    return X, np.arange(n)


def test_minibatches_cover_every_example_once():
    X, y = _data(10)
    batches = list(minibatches(X, y, batch_size=4, seed=0))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    seen = np.concatenate([yb for _, yb in batches])
    assert np.array_equal(np.sort(seen), np.arange(10))
    assert not np.array_equal(seen, np.arange(10))  # shuffled
    for Xb, yb in batches:  # rows stay paired with their labels
        assert np.array_equal(Xb, X[yb])


def test_minibatches_no_shuffle_and_drop_last():
    X, y = _data(10)
    assert [yb.tolist() for _, yb in minibatches(X, y, 4, shuffle=False)] == [
        [0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [yb.tolist() for _, yb in minibatches(X, y, 4, shuffle=False, drop_last=True)] == [
        [0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(list(minibatches(X, y, 5, drop_last=True))) == 2  # exact fit keeps all
    assert [len(yb) for _, yb in minibatches(X, y, 32)] == [10]


def test_minibatches_shuffle_determinism():
    X, y = _data(50)
    order = lambda **kw: np.concatenate([yb for _, yb in minibatches(X, y, 8, **kw)])
    assert np.array_equal(order(seed=1), order(seed=1))
    assert not np.array_equal(order(seed=1), order(seed=2))
    rng = np.random.default_rng(7)
    epoch1, epoch2 = order(seed=rng), order(seed=rng)
    assert not np.array_equal(epoch1, epoch2)  # a shared Generator gives a new order per epoch
    rng = np.random.default_rng(7)
    assert np.array_equal(order(seed=rng), epoch1)
    assert np.array_equal(np.sort(order(seed=None)), np.arange(50))


@pytest.mark.parametrize("args, kwargs, error, match", [
    ((np.zeros((5, 2)), np.zeros(4), 2), {}, ValueError, r"same number of examples, got len\(X\)=5 and len\(y\)=4"),
    ((np.zeros((5, 2)), np.zeros(5), 0), {}, ValueError, r"batch_size must be an int >= 1, got 0"),
    ((np.zeros((5, 2)), np.zeros(5), 2.0), {}, TypeError, r"batch_size must be an int >= 1, got 2.0"),
    (([[1, 2]], np.zeros(1), 1), {}, TypeError, r"X must be a numpy array, got list"),
    ((np.zeros(3), [0, 1, 2], 1), {}, TypeError, r"y must be a numpy array, got list"),
    ((np.zeros((5, 2)), np.zeros(5), 2), {"seed": "x"}, TypeError, r"seed must be an int, a numpy.random.Generator or None"),
    ((np.zeros((5, 2)), np.zeros(5), 2), {"shuffle": "no"}, TypeError, r"shuffle must be True or False"),
])
def test_minibatches_errors_raise_immediately(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        minibatches(*args, **kwargs)  # no next(): errors come at call time, not first iteration


# --------------------------------------------------------------------------- Standardizer

def test_standardizer_train_statistics():
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((200, 4)) * [1, 10, 0.1, 3] + [5, -2, 0, 100]).astype(np.float32)
    s = Standardizer()
    Z = s.fit_transform(X)
    assert Z.dtype == np.float32 and Z.shape == X.shape
    np.testing.assert_allclose(Z.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(Z.std(0), 1, atol=1e-5)
    np.testing.assert_allclose(s.inverse_transform(Z), X, rtol=1e-5, atol=1e-4)
    X_new = rng.standard_normal((7, 4)).astype(np.float32)
    np.testing.assert_allclose(s.transform(X_new), (X_new - X.mean(0)) / X.std(0), rtol=1e-4, atol=1e-4)
    assert "fitted on 4 features" in repr(s)


def test_standardizer_constant_features_and_digits():
    (X_tr, _), (X_te, _) = load_digits()
    s = Standardizer().fit(X_tr)
    Z_tr, Z_te = s.transform(X_tr), s.transform(X_te)
    assert np.isfinite(Z_tr).all() and np.isfinite(Z_te).all()
    constant = X_tr.std(0) == 0
    assert constant.any()  # blank border pixels
    assert np.all(Z_tr[:, constant] == 0)
    assert np.all(s.std_[constant] == 1)
    np.testing.assert_allclose(Z_tr[:, ~constant].std(0), 1, atol=1e-4)
    Zi = Standardizer().fit_transform(np.array([[1, 2], [3, 2]], dtype=np.int64))
    assert Zi.dtype == np.float32 and np.array_equal(Zi, [[-1, 0], [1, 0]])
    Z64 = Standardizer().fit_transform(X_tr.astype(np.float64))
    assert Z64.dtype == np.float64


def test_standardizer_errors():
    s = Standardizer()
    with pytest.raises(RuntimeError, match=r"not fitted yet: call fit\(X_train\) \(or fit_transform\) before transform"):
        s.transform(np.zeros((2, 3)))
    with pytest.raises(RuntimeError, match=r"not fitted yet.*before inverse_transform"):
        s.inverse_transform(np.zeros((2, 3)))
    s.fit(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"X must have 3 features \(columns\), as in the data passed to fit, got 5"):
        s.transform(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"X must have shape \(N, D\) to transform, got shape \(3,\)"):
        s.transform(np.zeros(3))
    with pytest.raises(TypeError, match=r"X must be a numpy array, got list"):
        s.fit([[1.0, 2.0]])
    with pytest.raises(ValueError, match=r"X contains NaN or inf"):
        Standardizer().fit(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match=r"at least one example"):
        Standardizer().fit(np.zeros((0, 3)))
    with pytest.raises(TypeError, match=r"X must hold numbers, got dtype <U1"):
        Standardizer().fit(np.array([["a"]]))
