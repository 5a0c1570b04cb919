"""Arrays between the grader and its sandbox, in one file each way: no pickle, no zip.

A file is ``MAGIC``, the length of a JSON header (8 bytes, little-endian), the header
``[[name, dtype, shape], ...]`` and each array's bytes in C order, in the header's order,
each starting at a multiple of 8 bytes from the start of the data.  ``np.savez`` took
most of a sandboxed call's time (a zip member per array) and ``np.load`` evaluated every
array's header as a Python literal; this file is written with one ``write`` and read with
one ``frombuffer`` per array.

The trusted side reads what a submission may have forged: ``read_arrays`` accepts only
plain numeric arrays (bool, int, uint, float) whose sizes add up to exactly the data, and
says what was wrong otherwise (``ValueError``).

Standard library and numpy only: ``runner.py`` loads this file by path.
"""

import json
import re

import numpy as np

MAGIC = b"BPARRAY1"
MAX_HEADER_BYTES = 16 * 2**20
_DTYPE = re.compile(r"[<>|=][biuf][0-9]{1,2}")
_ALIGN = 8


def _padded(n):
    return -(-n // _ALIGN) * _ALIGN


def dumps(arrays):
    """The bytes of a file holding ``arrays`` ({name: ndarray of a numeric dtype})."""
    header, blobs = [], []
    for name, array in arrays.items():
        array = np.asarray(array)
        header.append([name, array.dtype.str, list(array.shape)])
        data = np.ascontiguousarray(array).tobytes()
        blobs.append(data + bytes(_padded(len(data)) - len(data)))
    text = json.dumps(header).encode()
    return b"".join([MAGIC, len(text).to_bytes(8, "little"), text, *blobs])


def write_arrays(path, arrays):
    with open(path, "wb") as f:
        f.write(dumps(arrays))


def read_arrays(data):
    """{name: writable ndarray} of a file's bytes ``data``; ValueError if it is malformed."""
    if data[:len(MAGIC)] != MAGIC or len(data) < len(MAGIC) + 8:
        raise ValueError("the arrays file does not start as one")
    start = len(MAGIC) + 8
    length = int.from_bytes(data[len(MAGIC):start], "little")
    if length > min(MAX_HEADER_BYTES, len(data) - start):
        raise ValueError("the arrays file's header is longer than the file")
    header = json.loads(data[start:start + length])
    if not isinstance(header, list):
        raise ValueError("the arrays file's header is not a list")
    body = bytearray(memoryview(data)[start + length:])  # one writable copy the arrays share
    arrays, offset = {}, 0
    for entry in header:
        if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str)
                and isinstance(entry[1], str) and _DTYPE.fullmatch(entry[1])
                and isinstance(entry[2], list) and len(entry[2]) <= 32
                and all(type(n) is int and 0 <= n < 2**40 for n in entry[2])):
            raise ValueError("an array's entry in the header is malformed (expected [name, "
                             "numeric dtype, shape])")
        name, descr, shape = entry
        dtype = np.dtype(descr)
        if dtype.kind not in "biuf" or name in arrays:
            raise ValueError(f"an array is not a plain numeric one or named twice ({descr})")
        count = 1
        for n in shape:
            count *= n
        size = count * dtype.itemsize
        if offset + size > len(body):
            raise ValueError("an array claims more data than the file holds")
        arrays[name] = np.frombuffer(body, dtype, count, offset).reshape(shape)
        offset += _padded(size)
    if offset != len(body):
        raise ValueError("the arrays file holds more data than its header describes")
    return arrays
