"""The lowest floor: which array module an array lives in, and the hot-loop kernels for it.

``array_module(x)`` returns ``numpy`` or ``cupy``. ``kernels(x)`` returns the module of hot loops
for that array: the Numba kernels (``backend.cpu``) for NumPy arrays, the CUDA kernels
(``backend.gpu``) for CuPy arrays, the plain array versions (``backend.plain``) otherwise. Numba
is imported, and a CUDA kernel compiled, on the first call that needs it: ``import minicnn``
imports neither Numba nor CuPy.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

import numpy as np

from minicnn.backend.devices import array_module, device_of, to_device

__all__ = ["array_module", "device_of", "kernels", "plain_kernels", "to_device"]

_plain_everywhere = False


@contextmanager
def plain_kernels() -> Iterator[None]:
    """Use the plain array kernels for every array, NumPy and CuPy, inside the ``with`` block:
    to read, debug or step through the reference versions, and to compare them with the Numba
    and CUDA kernels."""
    global _plain_everywhere
    previous, _plain_everywhere = _plain_everywhere, True
    try:
        yield
    finally:
        _plain_everywhere = previous


def kernels(x) -> ModuleType:
    """The module holding im2col, col2im and the pooling kernels for ``x``'s array module."""
    if not _plain_everywhere:
        if isinstance(x, np.ndarray):
            from minicnn.backend import cpu

            return cpu
        if device_of(x) == "cuda":
            from minicnn.backend import gpu

            return gpu
    from minicnn.backend import plain

    return plain
