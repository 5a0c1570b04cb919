"""Reading IDX files, the simple binary format MNIST is distributed in.

Layout (all integers big-endian): two zero bytes, a type code byte, a byte with the
number of dimensions d; then d unsigned 32-bit sizes; then the values, row-major.
"""

import gzip
import zlib
from pathlib import Path

import numpy as np

# IDX type code -> numpy dtype (big-endian where it matters)
IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class IDXFormatError(ValueError):
    """The bytes are not a well-formed IDX file."""


def parse_idx(data, name="IDX data"):
    """Parse the bytes of an IDX file into an array of shape (dim1, ..., dimd).

    The array has native byte order. ``name`` is used in error messages.
    """
    data = bytes(data)
    if len(data) < 4:
        raise IDXFormatError(f"{name} is malformed: expected at least a 4-byte header, got {len(data)} bytes")
    zero1, zero2, code, ndim = data[:4]
    if zero1 != 0 or zero2 != 0 or code not in IDX_DTYPES:
        codes = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise IDXFormatError(
            f"{name} is malformed: expected a magic number 00 00 <type> <ndim> with type "
            f"one of {codes}, got {data[:4].hex(' ')}"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IDXFormatError(
            f"{name} is malformed: its header says {ndim} dimensions ({header} header bytes), "
            f"but the file has only {len(data)} bytes"
        )
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise IDXFormatError(
            f"{name} is malformed: a {dtype.name} array of shape {shape} needs {expected} bytes "
            f"after the header, got {len(data) - header}"
        )
    values = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))


def read_idx_gz(path):
    """Read a gzip-compressed IDX file (e.g. ``train-images-idx3-ubyte.gz``) into an array."""
    path = Path(path)
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise IDXFormatError(f"{path} is not a valid gzip file ({e}); delete it and try again") from e
    return parse_idx(data, name=str(path))
