"""Reading the sandbox's .npz outputs (``sandbox._load_npz``): each member's header parsed
once, directly where numpy wrote it, by numpy's reader otherwise; the arrays exactly what
np.load gives; anything but plain numeric arrays of the size they claim refused."""

import io
import struct
import zipfile

import numpy as np
import pytest

from bpcourse.grading.sandbox import _load_npz


def _npz(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def test_the_arrays_are_those_np_load_reads():
    rng = np.random.default_rng(0)
    arrays = {"a": rng.normal(size=(3, 4)), "b": np.ones(5, np.float32), "c": np.array(3.0),
              "d": np.asfortranarray(rng.normal(size=(4, 3))), "e": np.zeros((0, 3)),
              "f": np.array([True, False]), "g": rng.integers(0, 9, (2, 3, 4)).astype(">i4"),
              "h": np.ones((1,), np.float16), "i": rng.normal(size=(2, 5)).T,
              "j": np.arange(12, dtype=np.uint8).reshape(2, 2, 3)}
    data = _npz(**arrays)
    got = _load_npz(data)
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        expected = {k: npz[k] for k in npz.files}
    assert sorted(got) == sorted(expected) == sorted(arrays)
    for key, want in expected.items():
        assert got[key].dtype == want.dtype and got[key].shape == want.shape, key
        assert np.array_equal(got[key], want), key
        assert got[key].flags.writeable, key


def test_a_header_numpy_did_not_write_goes_to_numpys_reader():
    """A valid header in another layout (keys in another order) is read by numpy's reader."""
    header = b"{'shape': (2,), 'fortran_order': False, 'descr': '<f8'}"
    header += b" " * (63 - len(header) - 10) + b"\n"
    member = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header
    member += np.array([1.5, -2.0]).tobytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("x.npy", member)
    assert _load_npz(buf.getvalue())["x"].tolist() == [1.5, -2.0]


@pytest.mark.parametrize("array", [np.array([1, None], dtype=object), np.array([1j]),
                                   np.zeros(2, dtype=[("x", "<f8")]), np.array(["ab"]),
                                   np.array(["2020-01-01"], dtype="datetime64[D]")],
                         ids=["object", "complex", "structured", "str", "datetime"])
def test_other_dtypes_are_refused(array):
    with pytest.raises(ValueError, match="dtype"):
        _load_npz(_npz(x=array))


def _with_member(data, name, edit):
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for info in src.infolist():
            raw = src.read(info)
            zf.writestr(info.filename if info.filename != name else edit[0],
                        raw if info.filename != name else edit[1](raw))
    return buf.getvalue()


def test_arrays_that_claim_more_data_than_they_hold_are_refused():
    data = _npz(x=np.ones((4, 4)))
    bigger = _with_member(data, "x.npy", ("x.npy", lambda raw: raw.replace(b"(4, 4)", b"(9, 9)")))
    with pytest.raises(ValueError, match="claims more data"):
        _load_npz(bigger)
    # the shape grown within the member's size: the data read is shorter than claimed
    padded = _with_member(data, "x.npy", ("x.npy", lambda raw: raw[:-8]))
    with pytest.raises(ValueError):
        _load_npz(padded)
    other = _with_member(data, "x.npy", ("x.txt", lambda raw: raw))
    with pytest.raises(ValueError, match="not an array"):
        _load_npz(other)
