"""Inverted dropout: zero each element with probability p, scale the rest by 1/(1-p)."""

from __future__ import annotations

from minicnn.backend import array_module
from minicnn.random import generator


def dropout_forward(x, p: float, inplace: bool = False):
    """y = x * mask / (1 - p), mask ~ Bernoulli(1 - p) from minicnn's generator.

    Returns (out, scaled_mask). p = 1 multiplies by zero (PyTorch's rule, so NaN stays NaN).
    """
    xp = array_module(x)
    keep = generator().random(x.shape, dtype=x.dtype) >= p
    # 1/(1-p) divided in x's dtype, as PyTorch does (float32(1) / float32(1 - p) differs from
    # float32(1 / (1 - p)) in the last bit for about one p in four)
    scale = x.dtype.type(0) if p == 1 else x.dtype.type(1) / x.dtype.type(1 - p)
    scaled_mask = xp.asarray(keep.astype(x.dtype) * scale)
    out = xp.multiply(x, scaled_mask, out=x if inplace else None)
    return xp.asarray(out), scaled_mask  # NumPy turns 0-D products into scalars


def dropout_backward(grad_out, scaled_mask):
    """dy/dx is the scaled mask: grad_x = grad_out * mask / (1 - p)."""
    return array_module(grad_out).asarray(grad_out * scaled_mask)

