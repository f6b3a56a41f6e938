"""GPU availability, checked without importing CuPy at ``import minicnn`` time."""

from __future__ import annotations


def is_available() -> bool:
    """True when CuPy is installed and sees at least one CUDA device."""
    try:
        import cupy
    except ImportError:
        return False
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no driver, no device: CuPy raises its own CUDA errors
        return False
