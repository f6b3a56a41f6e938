"""Flatten: a reshape forward, the inverse reshape backward."""

from __future__ import annotations


def flatten_forward(x, start_dim: int, end_dim: int):
    """Merge dims start_dim..end_dim (already non-negative) into one. Returns (out, in_shape)."""
    shape = x.shape
    merged = 1
    for size in shape[start_dim : end_dim + 1]:
        merged *= size
    return x.reshape(*shape[:start_dim], merged, *shape[end_dim + 1 :]), shape


def flatten_backward(grad_out, in_shape: tuple):
    """grad_x is grad_out reshaped back to the input's shape."""
    return grad_out.reshape(in_shape)
