"""Buckets: many arrays sent as a few contiguous buffers, one MPI call per buffer.

A network has dozens of small tensors (a bias of 6 numbers, a weight of 150); one collective
per tensor pays the latency dozens of times. Instead the arrays of one dtype are copied one
after the other into a host buffer of at most ``bucket_bytes`` (an array larger than that gets a
bucket of its own), the buffer goes through one call, and each array is copied back from its
slice. CuPy arrays go through the host too: mpi4py's buffers here are NumPy arrays.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Sequence

import numpy as np

from minicnn.backend import to_device
from minicnn.nn.parameter import Parameter

BUCKET_BYTES = 64 * 2**20  # 64 MiB


def check_bucket_bytes(bucket_bytes: int, caller: str) -> int:
    if not isinstance(bucket_bytes, numbers.Integral) or bucket_bytes < 1:
        raise ValueError(f"{caller}: bucket_bytes must be a positive int, got {bucket_bytes!r}")
    return int(bucket_bytes)


def plan_buckets(params: Sequence[Parameter], bucket_bytes: int) -> list[list[Parameter]]:
    """The Parameters grouped into buckets of one dtype and at most ``bucket_bytes`` each, in
    their order within a dtype; dtypes in the order they first appear. Every rank with the same
    parameters gets the same plan, whatever their gradients hold."""
    buckets: list[list[Parameter]] = []
    open_bucket: dict[np.dtype, tuple[list[Parameter], int]] = {}  # dtype -> (bucket, bytes)
    for param in params:
        nbytes = param.data.size * param.dtype.itemsize
        bucket, filled = open_bucket.get(param.dtype, (None, 0))
        if bucket is None or (bucket and filled + nbytes > bucket_bytes):
            bucket, filled = [], 0
            buckets.append(bucket)
        bucket.append(param)
        open_bucket[param.dtype] = (bucket, filled + nbytes)
    return buckets


def pack(params: Sequence[Parameter], arrays: Sequence, extra: int = 0) -> np.ndarray:
    """A host buffer of the parameters' dtype holding ``arrays`` (one per parameter, of its
    shape; None counts as zeros) flattened one after the other, then ``extra`` zeros."""
    sizes = [param.data.size for param in params]
    buffer = np.zeros(sum(sizes) + extra, dtype=params[0].dtype)
    offset = 0
    for size, array in zip(sizes, arrays, strict=True):
        if array is not None:
            buffer[offset : offset + size] = to_device(array, "cpu").reshape(-1)
        offset += size
    return buffer


def unpack(
    buffer: np.ndarray, params: Sequence[Parameter]
) -> Iterator[tuple[Parameter, np.ndarray]]:
    """Each parameter with its slice of ``buffer`` (a view, in the parameter's shape)."""
    offset = 0
    for param in params:
        size = param.data.size
        yield param, buffer[offset : offset + size].reshape(param.shape)
        offset += size
