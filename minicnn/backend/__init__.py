"""The lowest floor: which array module an array lives in, and the hot-loop kernels for it.

``array_module(x)`` returns ``numpy`` or ``cupy``. ``kernels(x)`` returns the module of hot loops
for that array: the Numba kernels (``backend.cpu``) for NumPy arrays, the plain array versions
(``backend.plain``) otherwise. Numba is imported on the first call, not with ``import minicnn``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

import numpy as np

from minicnn.backend.devices import array_module, device_of, to_device

__all__ = ["array_module", "device_of", "kernels", "plain_kernels", "to_device"]

_plain_on_cpu = False


@contextmanager
def plain_kernels() -> Iterator[None]:
    """Use the plain array kernels for NumPy arrays too, inside the ``with`` block: to read,
    debug or step through the reference versions, and to test the code paths CuPy takes."""
    global _plain_on_cpu
    previous, _plain_on_cpu = _plain_on_cpu, True
    try:
        yield
    finally:
        _plain_on_cpu = previous


def kernels(x) -> ModuleType:
    """The module holding im2col, col2im and the pooling kernels for ``x``'s array module."""
    if isinstance(x, np.ndarray) and not _plain_on_cpu:
        from minicnn.backend import cpu

        return cpu
    from minicnn.backend import plain

    return plain
