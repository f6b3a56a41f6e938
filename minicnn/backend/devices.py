"""Devices: NumPy arrays live on the CPU, CuPy arrays on the GPU ('cuda')."""

from __future__ import annotations

import sys
from types import ModuleType

import numpy as np

DEVICES = ("cpu", "cuda")


def _cupy() -> ModuleType | None:
    """CuPy if it is installed, without importing it when no CuPy array was ever seen."""
    return sys.modules.get("cupy")


def array_module(x) -> ModuleType:
    """``numpy`` for NumPy arrays (and scalars), ``cupy`` for CuPy arrays."""
    if type(x) is np.ndarray:  # the common case first: this runs for every array op
        return np
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


def full_on(device: str, value, dtype):
    """A 0-d array holding ``value`` on ``device``; on the GPU it is filled there (a kernel),
    not copied from the host, which would wait for the GPU's queued work."""
    if device == "cpu":
        return np.asarray(value, dtype=dtype)
    return _cupy().full((), value, dtype=dtype)
