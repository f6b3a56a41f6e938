"""Argument and input checks shared by the layers; each message names the layer."""

from __future__ import annotations

import numbers

import numpy as np

from minicnn.backend import array_module, device_of

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def name_of(layer) -> str:
    """How messages name a layer: its repr (``Conv2d(3, 16, kernel_size=(3, 3), ...)``)."""
    return layer if isinstance(layer, str) else repr(layer)


def is_array(x) -> bool:
    return isinstance(x, np.ndarray) or array_module(x) is not np


def as_pair(value, name: str, layer: str) -> tuple[int, int]:
    """An int or a pair of ints as a pair."""
    if isinstance(value, numbers.Integral):
        pair = (value, value)
    elif isinstance(value, (tuple, list)):
        pair = tuple(value)
    else:
        pair = ()
    if len(pair) != 2 or not all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in pair
    ):
        raise TypeError(f"{name_of(layer)}: {name} must be an int or a pair of ints, got {value!r}")
    return int(pair[0]), int(pair[1])


def positive_pair(value, name: str, layer: str) -> tuple[int, int]:
    pair = as_pair(value, name, layer)
    if min(pair) <= 0:
        raise ValueError(f"{name_of(layer)}: {name} must be positive, got {value!r}")
    return pair


def non_negative_pair(value, name: str, layer: str) -> tuple[int, int]:
    pair = as_pair(value, name, layer)
    if min(pair) < 0:
        raise ValueError(f"{name_of(layer)}: {name} must be non-negative, got {value!r}")
    return pair


def positive_int(value, name: str, layer: str) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{name_of(layer)}: {name} must be an int, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name_of(layer)}: {name} must be positive, got {value}")
    return int(value)


def float_dtype(dtype, layer: str) -> np.dtype:
    """The layer's parameter dtype: float32 (default) or float64."""
    try:
        resolved = np.dtype(np.float32 if dtype is None else dtype)
    except TypeError:
        resolved = None
    if resolved not in FLOAT_DTYPES:
        shown = dtype if resolved is None else resolved
        raise TypeError(f"{name_of(layer)}: dtype must be float32 or float64, got {shown}")
    return resolved


def check_input(layer, x, ndims: tuple[int, ...] | None, layout: str = "", dtype=None, device=None):
    """Check that ``x`` is a float array of one of ``ndims`` dims (any if None), of ``dtype``
    and on ``device`` when given. ``layout`` names the expected shape, e.g. '(N, C, H, W)'.
    The layer's name is formatted only when a check fails.
    """
    if not is_array(x):
        raise TypeError(
            f"{name_of(layer)}: expected a numpy or cupy array, got {type(x).__name__}"
        )
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{name_of(layer)}: expected a float32 or float64 input, got dtype {x.dtype}"
        )
    if dtype is not None and x.dtype != dtype:
        raise TypeError(
            f"{name_of(layer)}: input dtype {x.dtype} does not match the layer's dtype {dtype}; "
            f"convert one of them (x.astype(np.{dtype}) or a layer built with dtype={x.dtype})"
        )
    if device is not None and device_of(x) != device:
        raise TypeError(
            f"{name_of(layer)}: input is on device '{device_of(x)}' but the layer's parameters "
            f"are on '{device}'; move one of them (model.to(...) or the array)"
        )
    if ndims is not None and x.ndim not in ndims:
        expected = " or ".join(f"{n}-D" for n in ndims)
        raise ValueError(
            f"{name_of(layer)}: expected {expected} input {layout}, got shape {tuple(x.shape)}"
        )


def normalize_dim(dim: int, ndim: int, layer: str) -> int:
    """A dim in [-ndim, ndim) as a non-negative index (0-d arrays accept -1 and 0)."""
    size = max(ndim, 1)
    if not isinstance(dim, numbers.Integral) or isinstance(dim, bool):
        raise TypeError(f"{name_of(layer)}: dim must be an int, got {dim!r}")
    if not -size <= dim < size:
        raise IndexError(
            f"{name_of(layer)}: dimension out of range (expected to be in range of "
            f"[{-size}, {size - 1}], but got {dim})"
        )
    return dim % size


def check_writeable(layer, x) -> None:
    """An in-place layer's input must be writeable (not read-only, not a broadcast view)."""
    if not getattr(x.flags, "writeable", True):
        raise ValueError(
            f"{name_of(layer)}: inplace=True needs a writeable input, got a read-only array; "
            "pass a copy or use inplace=False"
        )
