"""Spatial padding of (N, C, H, W) arrays in PyTorch's four modes, and its backward."""

from __future__ import annotations

import numpy as np

from minicnn.backend import array_module

# PyTorch's padding_mode -> the mode of numpy.pad / cupy.pad that computes the same values.
PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}

Pads = tuple[int, int, int, int]  # (top, bottom, left, right)


def pad2d(x, pads: Pads, mode: str = "zeros"):
    """Pad the last two axes of ``x`` by ``pads`` = (top, bottom, left, right)."""
    if not any(pads):
        return x
    top, bottom, left, right = pads
    widths = [(0, 0)] * (x.ndim - 2) + [(top, bottom), (left, right)]
    return array_module(x).pad(x, widths, mode=PAD_MODES[mode])


def _fold_axis(grad, axis: int, size: int, before: int, after: int, mode: str):
    """Gradient of padding one axis: each padded position gives its gradient to its source."""
    inner = [slice(None)] * grad.ndim
    inner[axis] = slice(before, before + size)
    if mode == "zeros":
        return grad[tuple(inner)]
    source = np.pad(np.arange(size), (before, after), mode=PAD_MODES[mode])
    folded = grad[tuple(inner)].copy()
    for position in [*range(before), *range(before + size, before + size + after)]:
        into, take = [slice(None)] * grad.ndim, [slice(None)] * grad.ndim
        into[axis], take[axis] = int(source[position]), position
        folded[tuple(into)] += grad[tuple(take)]
    return folded


def pad2d_backward(grad_padded, in_size: tuple[int, int], pads: Pads, mode: str = "zeros"):
    """Gradient of ``pad2d``: (..., H + top + bottom, W + left + right) -> (..., H, W).

    For 'zeros' the border is cut away. For the other modes a border element is a copy of an
    input element (a mirror, the edge, or the opposite side), so its gradient is added there.
    """
    if not any(pads):
        return grad_padded
    top, bottom, left, right = pads
    grad = _fold_axis(grad_padded, -1, in_size[1], left, right, mode)
    return _fold_axis(grad, -2, in_size[0], top, bottom, mode)
