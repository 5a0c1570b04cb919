"""The arrays files between the grader and its sandbox (``grading/transport.py``): every
plain numeric array comes back exactly, writable; anything else a submission could forge
in their place is refused with a ValueError that says what was wrong."""

import json

import numpy as np
import pytest

from bpcourse.grading.transport import MAGIC, dumps, read_arrays


def _forged(header, data=b""):
    text = json.dumps(header).encode()
    return MAGIC + len(text).to_bytes(8, "little") + text + data


def test_every_numeric_array_comes_back_exactly_and_writable():
    rng = np.random.default_rng(0)
    arrays = {"a": rng.normal(size=(3, 4)), "b": np.ones(5, np.float32), "c": np.array(3.0),
              "d": np.asfortranarray(rng.normal(size=(4, 3))), "e": np.zeros((0, 3)),
              "f": np.array([True, False, True]), "g": rng.integers(0, 9, (2, 3, 4)).astype(">i4"),
              "h": np.ones((1,), np.float16), "i": rng.normal(size=(2, 5)).T,
              "j": np.arange(12, dtype=np.uint8).reshape(2, 2, 3), "k": np.zeros(0),
              "l": rng.normal(size=(7,)).astype(np.float32)[::2]}
    got = read_arrays(dumps(arrays))
    assert list(got) == list(arrays)
    for name, array in arrays.items():
        assert got[name].dtype == array.dtype and got[name].shape == array.shape, name
        assert np.array_equal(got[name], array), name
        assert got[name].flags.writeable, name
        got[name][...] = 0  # one array's buffer is not another's
    assert np.array_equal(read_arrays(dumps(arrays))["a"], arrays["a"])


@pytest.mark.parametrize("descr", ["|O", "<c16", "|V8", "<M8[s]", "<U3", "|S4", "f8", "<f8x"])
def test_a_dtype_other_than_plain_numeric_is_refused(descr):
    with pytest.raises(ValueError, match="header is malformed|not a plain numeric"):
        read_arrays(_forged([["x", descr, [1]]], bytes(16)))


@pytest.mark.parametrize("shape", [[-1], [1.5], ["3"], [True], [2**40], [1] * 33, 3, None])
def test_a_malformed_shape_is_refused(shape):
    with pytest.raises(ValueError, match="header is malformed"):
        read_arrays(_forged([["x", "<f8", shape]], bytes(8)))


def test_an_array_that_claims_more_data_than_the_file_holds_is_refused():
    with pytest.raises(ValueError, match="claims more data"):  # 700 TiB claimed, 64 bytes held
        read_arrays(_forged([["x", "<f8", [10**7, 10**7]]], bytes(64)))
    data = dumps({"x": np.ones((4, 4))})
    with pytest.raises(ValueError, match="claims more data"):
        read_arrays(data[:-8])


def test_data_the_header_does_not_describe_is_refused():
    with pytest.raises(ValueError, match="more data than its header"):
        read_arrays(dumps({"x": np.ones(3)}) + bytes(8))


@pytest.mark.parametrize("data", [b"", b"PK\x03\x04 an npz", MAGIC, MAGIC + (2**40).to_bytes(8, "little")])
def test_a_file_that_is_not_an_arrays_file_is_refused(data):
    with pytest.raises(ValueError, match="does not start as one|longer than the file"):
        read_arrays(data)


@pytest.mark.parametrize("header", [{"x": 1}, [["x", "<f8"]], [[1, "<f8", [1]]],
                                    [["x", "<f8", [1]], ["x", "<f8", [1]]]])
def test_a_header_of_another_form_is_refused(header):
    with pytest.raises(ValueError):
        read_arrays(_forged(header, bytes(16)))
