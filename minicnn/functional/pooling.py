"""Max, average, power-average (LP) and adaptive average pooling over (N, C, H, W), with backward.

The average pools share one mechanism: each output sums a rectangle of the input and divides
by a count (``window_mean``); they differ only in where the rectangles lie and what they divide by.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from minicnn.backend import array_module, kernels

Pair = tuple[int, int]


def pool_output_size(
    size: int, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool
) -> int:
    """PyTorch's pooling output length; with ceil_mode the last window must start inside."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)
    out = span // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def pool_output_shape(
    in_size: Pair, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair, ceil_mode: bool
) -> Pair:
    """``pool_output_size`` on both spatial axes."""
    return tuple(
        pool_output_size(*args, ceil_mode)
        for args in zip(in_size, kernel, stride, padding, dilation, strict=True)
    )


# --- max pooling -----------------------------------------------------------------------------


class MaxPool2dCache(NamedTuple):
    indices: object
    in_size: Pair


def max_pool2d_forward(
    x, kernel: Pair, stride: Pair, padding: Pair = (0, 0), dilation: Pair = (1, 1),
    ceil_mode: bool = False,
):
    """out[n, c, oh, ow] = max of x[n, c] over the window at (oh, ow); padding counts as -inf.

    x: (N, C, H, W). Returns (out, cache); ``cache.indices`` holds PyTorch's flat h*W + w index
    of each maximum.
    """
    out_size = pool_output_shape(x.shape[2:], kernel, stride, padding, dilation, ceil_mode)
    out, indices = kernels(x).max_pool2d_forward(x, kernel, stride, padding, dilation, out_size)
    return out, MaxPool2dCache(indices, x.shape[2:])


def max_pool2d_backward(grad_out, cache: MaxPool2dCache):
    """grad_x[n, c, h, w] = sum of grad_out[n, c, oh, ow] over the windows whose max was (h, w)."""
    return kernels(grad_out).max_pool2d_backward(grad_out, cache.indices, cache.in_size)


# --- average pooling (fixed and adaptive windows) --------------------------------------------


class WindowMeanCache(NamedTuple):
    in_size: Pair
    row_start: np.ndarray
    row_end: np.ndarray
    col_start: np.ndarray
    col_end: np.ndarray
    divisor: np.ndarray


def _window_mean_forward(x, row_bounds, col_bounds, divisor):
    cache = WindowMeanCache(x.shape[2:], *row_bounds, *col_bounds, divisor)
    return kernels(x).window_mean_forward(x, *row_bounds, *col_bounds, divisor), cache


def window_mean_backward(grad_out, cache: WindowMeanCache):
    """grad_x[n, c, h, w] = sum, over the windows holding (h, w), of grad_out / their divisor."""
    return kernels(grad_out).window_mean_backward(grad_out, *cache)


def _fixed_windows(size: int, kernel: int, stride: int, padding: int, out: int):
    """Window bounds along one axis, PyTorch's avg_pool2d: (start, end, padded length)."""
    start = np.arange(out) * stride - padding
    end = np.minimum(start + kernel, size + padding)
    padded_length = end - start  # counts padding, not the overhang of ceil_mode
    return np.maximum(start, 0), np.minimum(end, size), padded_length


def avg_pool2d_forward(
    x, kernel: Pair, stride: Pair, padding: Pair = (0, 0), ceil_mode: bool = False,
    count_include_pad: bool = True, divisor_override: int | None = None,
):
    """out[n, c, oh, ow] = sum of x[n, c] over the window at (oh, ow) / divisor.

    The divisor is ``divisor_override`` if given, else the window's size counting the zero
    padding (count_include_pad) or only the input elements it covers. Returns (out, cache).
    """
    out_size = pool_output_shape(x.shape[2:], kernel, stride, padding, (1, 1), ceil_mode)
    rows = _fixed_windows(x.shape[2], kernel[0], stride[0], padding[0], out_size[0])
    cols = _fixed_windows(x.shape[3], kernel[1], stride[1], padding[1], out_size[1])
    if divisor_override is not None:
        divisor = np.full(out_size, divisor_override)
    elif count_include_pad:
        divisor = np.outer(rows[2], cols[2])
    else:
        divisor = np.outer(rows[1] - rows[0], cols[1] - cols[0])
    return _window_mean_forward(x, rows[:2], cols[:2], divisor)


def _adaptive_windows(size: int, out: int):
    """PyTorch's adaptive bins along one axis: [floor(i*size/out), ceil((i+1)*size/out))."""
    i = np.arange(out)
    return (i * size) // out, -((-(i + 1) * size) // out)


def adaptive_avg_pool2d_forward(x, output_size: Pair):
    """out[n, c, i, j] = mean of x[n, c] over bin (i, j); bins overlap when sizes don't divide."""
    rows = _adaptive_windows(x.shape[2], output_size[0])
    cols = _adaptive_windows(x.shape[3], output_size[1])
    divisor = np.outer(rows[1] - rows[0], cols[1] - cols[0])
    return _window_mean_forward(x, rows, cols, divisor)


avg_pool2d_backward = window_mean_backward
adaptive_avg_pool2d_backward = window_mean_backward


# --- power-average (LP) pooling ---------------------------------------------------------------


class LPPool2dCache(NamedTuple):
    x: object
    norm_type: float
    window_size: int
    inner: MaxPool2dCache | WindowMeanCache  # max pooling for p = +-inf, else average pooling
    mean: object  # avg_pool(x ** p), None for p = +-inf


def lp_pool2d_forward(x, norm_type: float, kernel: Pair, stride: Pair, ceil_mode: bool = False):
    """out = (kh*kw * avg_pool(x ** p)) ** (1/p), each window's p-norm as PyTorch computes it
    (with ceil_mode, a clipped window's average still gets multiplied by the full kh*kw).

    p = inf is max |x| over the window and p = -inf is min |x|, as PyTorch special-cases them.
    """
    norm_type = float(norm_type)  # a NumPy scalar p would turn float32 into float64
    window_size = kernel[0] * kernel[1]
    if math.isinf(norm_type):
        sign = 1 if norm_type > 0 else -1
        peak, inner = max_pool2d_forward(sign * abs(x), kernel, stride, (0, 0), (1, 1), ceil_mode)
        return sign * peak, LPPool2dCache(x, norm_type, window_size, inner, None)
    mean, inner = avg_pool2d_forward(x**norm_type, kernel, stride, (0, 0), ceil_mode)
    out = (mean * window_size) ** (1.0 / norm_type)
    return out, LPPool2dCache(x, norm_type, window_size, inner, mean)


def lp_pool2d_backward(grad_out, cache: LPPool2dCache):
    """Chain rule through out = (K * m) ** (1/p), m = avg_pool(x ** p), K = kh*kw:

      d out / d m = K/p * (K*m) ** (1/p - 1)  (0 where m == 0, as PyTorch's relu(|m|) gives)
      d m / d x   = avg_pool's backward, then d (x ** p) / d x = p * x ** (p - 1).

    For p = +-inf, out = +-max(+-|x|): the gradient goes to the chosen element, times sign(x).
    """
    xp = array_module(grad_out)
    p, window_size = cache.norm_type, cache.window_size
    if math.isinf(p):
        sign = 1 if p > 0 else -1
        return max_pool2d_backward(sign * grad_out, cache.inner) * sign * xp.sign(cache.x)
    with np.errstate(divide="ignore", invalid="ignore"):
        grad_mean = grad_out * (window_size / p) * (cache.mean * window_size) ** (1.0 / p - 1.0)
    grad_mean = xp.where(cache.mean == 0, xp.zeros((), dtype=grad_mean.dtype), grad_mean)
    grad_power = window_mean_backward(grad_mean, cache.inner)
    return grad_power * p * cache.x ** (p - 1)
