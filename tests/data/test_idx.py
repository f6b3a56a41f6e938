"""read_idx on small IDX files the tests write: raw and gzipped, every type, and every way a
file can be broken (each error names the file and the problem)."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from minicnn.data import IDXError, read_idx

TYPE_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D,
              np.float64: 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of ``array``, written independently of the reader: big-endian."""
    code = TYPE_CODES[array.dtype.type]
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        side.to_bytes(4, "big") for side in array.shape
    )
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("dtype", list(TYPE_CODES))
@pytest.mark.parametrize("compressed", [False, True])
@pytest.mark.parametrize("shape", [(5,), (3, 4, 2), (0, 28, 28)])
def test_read_idx_round_trips_raw_and_gzipped(tmp_path, dtype, compressed, shape):
    array = (np.arange(np.prod(shape)) - 3).reshape(shape).astype(dtype)
    data = idx_bytes(array)
    path = tmp_path / ("x.idx.gz" if compressed else "x.idx")
    path.write_bytes(gzip.compress(data) if compressed else data)
    loaded = read_idx(path)
    np.testing.assert_array_equal(loaded, array)
    assert loaded.dtype == np.dtype(dtype) and loaded.dtype.isnative


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"IDX file not found: .*nothing-here"):
        read_idx(tmp_path / "nothing-here")


@pytest.mark.parametrize(
    "mangle, message",
    [
        (lambda data: data[:-1], r"truncated: shape \(2, 3\) of uint8 needs 18 bytes, the file "
                                 r"holds 17"),
        (lambda data: data + b"\x00", r"has trailing bytes"),
        (lambda data: data[:6], r"truncated header: 2 dims need 12 bytes, got 6"),
        (lambda data: bytes([0, 0, 8, 4]) + (2**16).to_bytes(4, "big") * 4,  # 2^64 bytes
         r"truncated: shape \(65536, 65536, 65536, 65536\) of uint8 needs 18446744073709551636"),
        (lambda data: b"\x1f\x8b" + b"garbage", r"corrupt or truncated gzip data"),
        (lambda data: gzip.compress(data)[:-6], r"corrupt or truncated gzip data"),
        (lambda data: b"PK\x03\x04" + data, r"not an IDX file .*got 50 4b 03 04"),
        (lambda data: b"", r"not an IDX file .*got an empty file"),
        (lambda data: bytes([0, 0, 0x0A]) + data[3:], r"not an IDX file"),
    ],
)
def test_broken_files_name_the_file_and_the_problem(tmp_path, mangle, message):
    path = tmp_path / "broken-ubyte"
    path.write_bytes(mangle(idx_bytes(np.zeros((2, 3), np.uint8))))
    with pytest.raises(IDXError, match=message) as raised:
        read_idx(path)
    assert str(path) in str(raised.value) and isinstance(raised.value, ValueError)
