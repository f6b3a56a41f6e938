"""The lowest floor: which array module an array lives in, and the hot-loop kernels for it.

``array_module(x)`` returns ``numpy`` or ``cupy``. ``kernels(x)`` returns the module of hot loops
for that array: the Numba kernels (``backend.cpu``) for NumPy arrays, the plain array versions
(``backend.plain``) otherwise. Numba is imported on the first call, not with ``import minicnn``.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from minicnn.backend.devices import array_module, device_of, to_device

__all__ = ["array_module", "device_of", "kernels", "to_device"]


def kernels(x) -> ModuleType:
    """The module holding im2col, col2im and the pooling kernels for ``x``'s array module."""
    if isinstance(x, np.ndarray):
        from minicnn.backend import cpu

        return cpu
    from minicnn.backend import plain

    return plain
