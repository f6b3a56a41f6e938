"""Devices: NumPy arrays live on the CPU, CuPy arrays on the GPU ('cuda')."""

from __future__ import annotations

from types import ModuleType

import numpy as np

DEVICES = ("cpu", "cuda")


def _cupy() -> ModuleType | None:
    """CuPy if it is installed, without importing it when no CuPy array was ever seen."""
    import sys

    return sys.modules.get("cupy")


def array_module(x) -> ModuleType:
    """``numpy`` for NumPy arrays (and scalars), ``cupy`` for CuPy arrays."""
    cupy = _cupy()
    if cupy is not None and isinstance(x, cupy.ndarray):
        return cupy
    return np


def device_of(x) -> str:
    """'cpu' or 'cuda'."""
    return "cpu" if array_module(x) is np else "cuda"


def to_device(x, device: str):
    """Return ``x`` on ``device`` ('cpu' or 'cuda'), copying only when it moves."""
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; expected one of {DEVICES}")
    if device == device_of(x):
        return x
    if device == "cpu":
        return x.get()
    try:
        import cupy
    except ImportError as error:
        raise RuntimeError(
            "device 'cuda' needs CuPy: install it with `pip install minicnn[gpu]`"
        ) from error
    return cupy.asarray(x)
