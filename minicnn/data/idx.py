"""Read IDX files, the format of MNIST and Fashion-MNIST, raw or gzipped.

An IDX file is a 4-byte magic number (0, 0, a type code, the number of dims), each dim as a
big-endian uint32, then the values, big-endian, row-major. Every problem with a file is reported
with the file's path and what is wrong, never as a bare reshape or zlib error.
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"


class IDXError(ValueError):
    """An IDX file that is truncated, corrupt or not an IDX file at all."""


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    raw = path.read_bytes()
    if raw[:2] != GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise IDXError(f"{path}: corrupt or truncated gzip data ({error})") from None


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in the IDX file at ``path`` (gzip is detected from the content), in
    native byte order. Raises FileNotFoundError or IDXError (a ValueError) naming the file."""
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        found = raw[:4].hex(" ") or "an empty file"
        raise IDXError(
            f"{path}: not an IDX file (the magic number should be 00 00 <type> <ndim> with a "
            f"type in {sorted(hex(code) for code in IDX_TYPES)}, got {found})"
        )
    dtype, ndim = IDX_TYPES[raw[2]], raw[3]
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise IDXError(f"{path}: truncated header: {ndim} dims need {header_size} bytes, got "
                       f"{len(raw)}")
    shape = tuple(int(side) for side in np.frombuffer(raw, ">u4", ndim, offset=4))
    expected = header_size + math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    if len(raw) != expected:
        problem = "truncated" if len(raw) < expected else "has trailing bytes"
        raise IDXError(
            f"{path}: {problem}: shape {shape} of {dtype.name} needs {expected} bytes, the file "
            f"holds {len(raw)}"
        )
    values = np.frombuffer(raw, dtype, offset=header_size).reshape(shape)
    return values.astype(dtype.newbyteorder("="))
