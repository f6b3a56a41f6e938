"""What the GPU tests share: a skip marker with the reason, and moving arrays to the host.

``requires_gpu`` skips a test where CuPy is missing or sees no CUDA device; the normal suite
(CI has no GPU) reports those skips with the reason. ``host(x)`` is a NumPy copy of a CuPy
array (a NumPy array is returned as it is).
"""

from __future__ import annotations

import numpy as np
import pytest

import minicnn as mc


def _gpu_missing_reason() -> str | None:
    try:
        import cupy  # noqa: F401
    except ImportError:
        return "needs CuPy (pip install minicnn[gpu]) and an NVIDIA GPU"
    if not mc.cuda.is_available():
        return "needs an NVIDIA GPU: CuPy is installed but sees no CUDA device"
    return None


GPU_MISSING = _gpu_missing_reason()
requires_gpu = pytest.mark.skipif(GPU_MISSING is not None, reason=GPU_MISSING or "")


def host(x) -> np.ndarray:
    """``x`` as a NumPy array (copied from the GPU if it lives there)."""
    return x.get() if hasattr(x, "get") and not isinstance(x, np.ndarray) else np.asarray(x)
