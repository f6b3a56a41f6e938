"""Fully connected layer: y = x A^T + b over any leading dims."""

from __future__ import annotations

from typing import NamedTuple


class LinearCache(NamedTuple):
    x: object
    weight: object
    has_bias: bool


def linear_forward(x, weight, bias=None):
    """y = x @ weight^T + bias. x: (..., in_features); weight: (out, in); bias: (out,) or None."""
    out = x @ weight.T
    if bias is not None:
        out += bias
    return out, LinearCache(x, weight, bias is not None)


def linear_backward(grad_out, cache: LinearCache, input_grad: bool = True):
    """Returns (grad_x, grad_weight, grad_bias) for grad_out of shape (..., out_features);
    grad_x is None with ``input_grad=False``.

    With the leading dims flattened, X: (M, in) and G: (M, out):
      grad_x = G @ A          (M, in)
      grad_weight = G^T @ X   (out, in)
      grad_bias = sum of G over M
    """
    x, weight = cache.x, cache.weight
    grad_x = grad_out @ weight if input_grad else None
    rows = grad_out.reshape(-1, weight.shape[0])
    grad_weight = rows.T @ x.reshape(-1, weight.shape[1])
    grad_bias = rows.sum(axis=0) if cache.has_bias else None
    return grad_x, grad_weight, grad_bias
