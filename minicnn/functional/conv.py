"""2-D convolution as im2col + one GEMM per group, and its backward."""

from __future__ import annotations

from typing import NamedTuple

from minicnn.backend import array_module, kernels
from minicnn.functional.padding import Pads, pad2d, pad2d_backward

Pair = tuple[int, int]


def conv2d_pads(padding: Pair | str, kernel_size: Pair, dilation: Pair) -> Pads:
    """(top, bottom, left, right) for an int pair, 'valid', or 'same' (extra on bottom/right)."""
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        pads = []
        for k, d in zip(kernel_size, dilation, strict=True):
            total = d * (k - 1)
            pads += [total // 2, total - total // 2]
        return tuple(pads)
    return (padding[0], padding[0], padding[1], padding[1])


def conv2d_output_size(
    padded_size: Pair, kernel_size: Pair, stride: Pair, dilation: Pair
) -> Pair:
    """Output (Ho, Wo) of a convolution over an already padded (H, W); < 1 if the kernel is
    larger."""
    return tuple(
        (size - d * (k - 1) - 1) // s + 1
        for size, k, s, d in zip(padded_size, kernel_size, stride, dilation, strict=True)
    )


class Conv2dCache(NamedTuple):
    in_size: Pair
    padded_shape: tuple
    pads: Pads
    padding_mode: str
    weight: object
    columns: object
    stride: Pair
    dilation: Pair
    groups: int
    has_bias: bool


def conv2d_forward(
    x,
    weight,
    bias=None,
    stride: Pair = (1, 1),
    pads: Pads = (0, 0, 0, 0),
    dilation: Pair = (1, 1),
    groups: int = 1,
    padding_mode: str = "zeros",
):
    """out[n, o] = sum over c in o's group of weight[o, c] (*) x_padded[n, c] + bias[o].

    x: (N, C, H, W); weight: (O, C/groups, kh, kw); bias: (O,) or None. Returns (out, cache)
    with out (N, O, Ho, Wo). The padded input is unfolded into columns (C*kh*kw, N*Ho*Wo),
    and each group's output is one GEMM: (O/g, C/g*kh*kw) @ (C/g*kh*kw, N*Ho*Wo).
    """
    padded = pad2d(x, pads, padding_mode)
    kernel_size = weight.shape[2:]
    out_size = conv2d_output_size(padded.shape[2:], kernel_size, stride, dilation)
    columns = kernels(x).im2col(padded, kernel_size, stride, dilation, out_size)

    n, out_channels = x.shape[0], weight.shape[0]
    grouped_weight = weight.reshape(groups, out_channels // groups, -1)
    out = grouped_weight @ columns.reshape(groups, grouped_weight.shape[2], -1)
    out = out.reshape(out_channels, n, *out_size).transpose(1, 0, 2, 3)
    out = array_module(x).ascontiguousarray(out)
    if bias is not None:
        out += bias.reshape(1, -1, 1, 1)
    cache = Conv2dCache(
        x.shape[2:], padded.shape, pads, padding_mode, weight, columns, stride, dilation, groups,
        bias is not None,
    )
    return out, cache


def conv2d_backward(grad_out, cache: Conv2dCache):
    """Returns (grad_x, grad_weight, grad_bias); grad_bias is None without a bias.

    Per group, with G = grad_out as (O/g, N*Ho*Wo) and X the forward's columns:
      grad_weight = G @ X^T                      (O/g, C/g*kh*kw)
      grad_columns = W^T @ G                     (C/g*kh*kw, N*Ho*Wo)
    col2im adds each column entry back to the input pixel it was copied from, and the padding's
    backward returns the border's gradient to the input (or drops it, for zero padding).
    grad_bias[o] = sum of grad_out[:, o] over N, Ho, Wo.
    """
    weight, groups = cache.weight, cache.groups
    out_channels = weight.shape[0]
    grad_rows = grad_out.transpose(1, 0, 2, 3).reshape(groups, out_channels // groups, -1)
    grouped_weight = weight.reshape(groups, out_channels // groups, -1)
    grouped_columns = cache.columns.reshape(groups, grouped_weight.shape[2], -1)

    grad_weight = (grad_rows @ grouped_columns.transpose(0, 2, 1)).reshape(weight.shape)
    grad_columns = (grouped_weight.transpose(0, 2, 1) @ grad_rows).reshape(cache.columns.shape)
    grad_padded = kernels(grad_out).col2im(
        grad_columns, cache.padded_shape, weight.shape[2:], cache.stride, cache.dilation,
        grad_out.shape[2:],
    )
    grad_x = pad2d_backward(grad_padded, cache.in_size, cache.pads, cache.padding_mode)
    grad_bias = grad_out.sum(axis=(0, 2, 3)) if cache.has_bias else None
    return grad_x, grad_weight, grad_bias
