"""2-D convolution and its backward: im2col + one GEMM per chunk of images and group; on the
CPU, a direct kernel without columns for one input channel per group, and Winograd's
F(2x2, 3x3) for 3x3 kernels over many channels."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from minicnn.backend import array_module, kernels
from minicnn.functional.padding import Pads, pad2d, pad2d_backward
from minicnn.functional.winograd import (
    winograd_conv2d_forward,
    winograd_conv2d_input_grad,
    winograd_conv2d_weight_grad,
)
from minicnn.functional.workspace import batch_chunks

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


# The im2col columns of a whole batch can be large (128 images of 32x32x32 with a 3x3 kernel:
# 151 MB), so the batch is unfolded in chunks whose columns fit this budget (at least one
# image per chunk). A batch whose columns fit in the budget keeps them for the backward;
# larger ones recompute. 16 MiB keeps LeNet-5's second layer's columns at batch 256 (15 MB;
# 10% off its training step against 4 MiB), and the big layers' GEMMs ran no slower on
# 13-image chunks than on 3-image ones. On the GPU, columns live in device memory and small
# GEMMs waste the device, so the budget there is large: most batches are one chunk.
COLUMNS_BUDGET_BYTES = 16 * 2**20
GPU_COLUMNS_BUDGET_BYTES = 512 * 2**20


def columns_budget(x) -> int:
    """The bytes of im2col columns unfolded at a time for ``x``'s device."""
    return COLUMNS_BUDGET_BYTES if isinstance(x, np.ndarray) else GPU_COLUMNS_BUDGET_BYTES


class Conv2dCache(NamedTuple):
    source: object  # the input, padded here unless the padding is zeros (read in place)
    in_shape: tuple
    pads: Pads
    padding_mode: str
    weight: object
    windows: tuple  # (kernel_size, stride, (top, left) zero padding, dilation, out_size)
    groups: int
    has_bias: bool
    columns: object  # the whole batch's columns when they fit in one chunk, else None
    method: str  # "im2col", "direct" or "winograd": how the forward ran; backward follows


def _cpu_float(x, weight) -> bool:
    """Whether the CPU's Numba kernels take these arrays: NumPy float32 or float64, alike."""
    return (isinstance(x, np.ndarray) and x.dtype in (np.float32, np.float64)
            and weight.dtype == x.dtype)


def _direct(x, weight, stride: Pair, dilation: Pair) -> bool:
    """Whether a convolution runs without columns: one input channel per group (a grayscale
    network's first layer, depthwise convolutions) at unit stride and dilation, on the CPU.
    There im2col's GEMMs would have K = kh*kw, too small to pay for the columns: measured on
    a 2-core AVX2 machine, LeNet-5's first layer runs its forward and weight gradient about 2x
    faster direct, a 32-channel depthwise 3x3 convolution 2x (forward) to 10x (backward). On
    the GPU, im2col's few big GEMMs win."""
    return weight.shape[1] == 1 and tuple(stride) == tuple(dilation) == (1, 1) and _cpu_float(
        x, weight)


# Winograd's transforms cost a pass over the input and the output each: they pay for
# themselves when the GEMMs they shrink are large. Measured on a 2-core AVX2 VM (float32,
# batch 128): while the host was busy (a 1024^3 sgemm at ~35 GFLOP/s), 32 -> 64 channels on
# 32x32 planes ran forward 240 -> 152 ms and backward 401 -> 306 ms, 64 -> 64 on 16x16
# planes 96 -> 60 and 175 -> 140 ms; at 16 channels it ran as fast as im2col forward and 20%
# slower backward, at 3 channels twice as slow. On the quiet host (sgemm at ~70 GFLOP/s),
# Winograd and im2col ran even (within 5%) on every 3x3 shape of the benchmarks, in float32
# and float64: the transforms' memory traffic then costs what the smaller GEMMs save.
WINOGRAD_MIN_CHANNELS = 32


def _winograd(x, weight, stride: Pair, dilation: Pair, groups: int, border: Pads) -> bool:
    """Whether a convolution runs as Winograd's F(2x2, 3x3) (``functional.winograd``): a 3x3
    kernel at unit stride and dilation, one group, at least ``WINOGRAD_MIN_CHANNELS`` input
    and output channels, a zero ``border`` (top, bottom, left, right) of 0 to 2 (the input
    gradient's convolution pads 2 - p), on the CPU."""
    return (
        tuple(weight.shape[2:]) == (3, 3) and tuple(stride) == tuple(dilation) == (1, 1)
        and groups == 1 and min(weight.shape[:2]) >= WINOGRAD_MIN_CHANNELS
        and 0 <= min(border) and max(border) <= 2 and _cpu_float(x, weight)
    )


def _column_chunks(source, windows: tuple, groups: int, columns=None):
    """Yield (images, columns) for consecutive chunks of the batch: ``images`` a slice of it,
    ``columns`` their im2col as (groups, C/g*kh*kw, chunk*Ho*Wo), in one reused workspace.
    Given the whole batch's ``columns`` (kept from the forward), yield just those."""
    n, channels = source.shape[:2]
    if columns is not None:
        yield slice(0, n), columns
        return
    kernel_size, _, _, _, out_size = windows
    rows, per_image = channels * kernel_size[0] * kernel_size[1], out_size[0] * out_size[1]
    unfold = kernels(source).im2col
    for images, space in batch_chunks(source, rows * per_image, columns_budget(source)):
        size = images.stop - images.start
        columns = space.reshape(rows, size, per_image)
        unfold(source[images], *windows, out=columns)
        yield images, columns.reshape(groups, rows // groups, size * per_image)


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
    with out (N, O, Ho, Wo). A chunk of B images is unfolded into columns (C*kh*kw, B*Ho*Wo)
    (``COLUMNS_BUDGET_BYTES`` at a time), and each group's output is one GEMM:
    (O/g, C/g*kh*kw) @ (C/g*kh*kw, B*Ho*Wo), copied into out[chunk] with the bias added.
    With one input channel per group at unit stride and dilation, the CPU computes it directly
    instead: out[n, o] = bias[o] + sum over (i, j) of weight[o, 0, i, j] * x_padded[n, g(o)]
    shifted by (i, j) (``backend.plain.direct_conv2d_forward``). A 3x3 kernel at unit stride
    over many channels runs as Winograd's F(2x2, 3x3) on the CPU (``functional.winograd``),
    unless an inf or NaN turns up (then im2col gives PyTorch's numbers).
    """
    xp = array_module(x)
    if padding_mode == "zeros":  # the kernels read the zero border without building it
        source, zero_pads = xp.ascontiguousarray(x), (pads[0], pads[2])
    else:
        source, zero_pads = pad2d(x, pads, padding_mode), (0, 0)
    padded_size = (x.shape[2] + pads[0] + pads[1], x.shape[3] + pads[2] + pads[3])
    kernel_size = tuple(weight.shape[2:])
    out_size = conv2d_output_size(padded_size, kernel_size, stride, dilation)
    if min(out_size) < 1:
        raise ValueError(f"conv2d: the kernel does not fit the padded input (output {out_size})")
    windows = (kernel_size, tuple(stride), zero_pads, tuple(dilation), out_size)

    def cache(method: str, columns=None) -> Conv2dCache:
        return Conv2dCache(source, x.shape, pads, padding_mode, weight, windows, groups,
                           bias is not None, columns, method)

    if _direct(source, weight, stride, dilation):
        out = kernels(x).direct_conv2d_forward(source, weight, bias, zero_pads, out_size)
        return out, cache("direct")
    border = pads if padding_mode == "zeros" else (0, 0, 0, 0)
    if _winograd(source, weight, stride, dilation, groups, border):
        out = winograd_conv2d_forward(source, weight, bias, zero_pads, out_size,
                                      columns_budget(x))
        if out is not None:
            return out, cache("winograd")

    n, out_channels = x.shape[0], weight.shape[0]
    grouped_weight = weight.reshape(groups, out_channels // groups, -1)
    out = xp.empty((n, out_channels, out_size[0] * out_size[1]), dtype=x.dtype)
    shift = xp.zeros((), x.dtype) if bias is None else bias.reshape(-1, 1, 1)
    kept = None
    for images, columns in _column_chunks(source, windows, groups):
        products = (grouped_weight @ columns).reshape(out_channels, -1, out.shape[2])
        xp.add(products, shift, out=out[images].transpose(1, 0, 2))  # (O, B, L) into (B, O, L)
        if images.stop - images.start == n and columns.nbytes <= columns_budget(x):
            kept = columns  # the batch is one chunk within budget: backward needs them again
    return out.reshape(n, out_channels, *out_size), cache("im2col", kept)


def conv2d_backward(grad_out, cache: Conv2dCache, input_grad: bool = True):
    """Returns (grad_x, grad_weight, grad_bias); grad_bias is None without a bias, grad_x None
    with ``input_grad=False`` (a first layer: nothing needs d loss / d input, and skipping
    W^T @ G and col2im saves about a third of the backward).

    Per chunk and group, with G = grad_out[chunk] as (O/g, B*Ho*Wo) and X the chunk's columns
    (kept from the forward if they fit in the budget, else recomputed, to bound the memory):
      grad_weight += G @ X^T                     (O/g, C/g*kh*kw), summed over the chunks
      grad_columns = W^T @ G                     (C/g*kh*kw, B*Ho*Wo)
    (for kept columns, a few images at a time, in a quarter of the budget). col2im adds each
    column entry back to the input pixel it was copied from (entries from the zero border are
    dropped), and for the other padding modes the padding's backward returns the border's
    gradient to the input. grad_bias[o] = sum of grad_out[:, o] over N, Ho, Wo.
    A direct forward has a direct backward, the same sums without columns:
    grad_weight[o, 0, i, j] = sum of grad_out[:, o] * the input plane shifted by (i, j), and
    grad_x gets each grad_out[n, o] * weight[o, 0, i, j] back at that shift. A Winograd
    forward has a Winograd backward: grad_x is another 3x3 convolution (of grad_out, with the
    weight turned and its channels swapped), grad_weight sums tile products
    (``functional.winograd``).
    """
    backward = {"direct": _direct_backward, "winograd": _winograd_backward,
                "im2col": _im2col_backward}[cache.method]
    grad_source, grad_weight, grad_bias = backward(grad_out, cache, input_grad)
    grad_x = grad_source
    if input_grad and cache.padding_mode != "zeros":
        grad_x = pad2d_backward(grad_source, cache.in_shape[2:], cache.pads, cache.padding_mode)
    return grad_x, grad_weight, grad_bias


def _direct_backward(grad_out, cache: Conv2dCache, input_grad: bool):
    """(grad_source, grad_weight, grad_bias) of a direct forward."""
    direct = kernels(grad_out)
    zero_pads = cache.windows[2]
    grad_weight = direct.direct_conv2d_weight_grad(cache.source, grad_out, cache.weight.shape,
                                                   zero_pads)
    grad_source = None
    if input_grad:
        grad_source = direct.direct_conv2d_input_grad(grad_out, cache.weight, cache.source.shape,
                                                      zero_pads)
    grad_bias = grad_out.sum(axis=(0, 2, 3)) if cache.has_bias else None
    return grad_source, grad_weight, grad_bias


def _winograd_backward(grad_out, cache: Conv2dCache, input_grad: bool):
    """(grad_source, grad_weight, grad_bias) of a Winograd forward; an inf or NaN on the way
    sends the whole backward over im2col."""
    zero_pads, budget = cache.windows[2], columns_budget(grad_out)
    grad_weight = winograd_conv2d_weight_grad(cache.source, grad_out, zero_pads, budget)
    grad_source = None
    if input_grad and grad_weight is not None:
        grad_source = winograd_conv2d_input_grad(grad_out, cache.weight, cache.source.shape,
                                                 zero_pads, budget)
    if grad_weight is None or (input_grad and grad_source is None):
        return _im2col_backward(grad_out, cache, input_grad)
    grad_bias = grad_out.sum(axis=(0, 2, 3)) if cache.has_bias else None
    return grad_source, grad_weight, grad_bias


def _im2col_backward(grad_out, cache: Conv2dCache, input_grad: bool):
    """(grad_source, grad_weight, grad_bias) over im2col columns, chunk by chunk."""
    xp = array_module(grad_out)
    weight, groups, source = cache.weight, cache.groups, cache.source
    n, out_channels = grad_out.shape[:2]
    grouped_weight = weight.reshape(groups, out_channels // groups, -1)
    out_size = cache.windows[4]
    grad_out = grad_out.reshape(n, out_channels, out_size[0] * out_size[1])

    grad_weight = xp.zeros(grouped_weight.shape, dtype=weight.dtype)
    grad_bias = xp.zeros(grouped_weight.shape[:2], dtype=weight.dtype) if cache.has_bias else None
    grad_source = xp.empty(source.shape, dtype=grad_out.dtype) if input_grad else None
    for images, columns in _column_chunks(source, cache.windows, groups, cache.columns):
        grad_rows = xp.ascontiguousarray(grad_out[images].transpose(1, 0, 2))  # (O, B, L)
        grad_rows = grad_rows.reshape(groups, out_channels // groups, -1)
        grad_weight += grad_rows @ columns.transpose(0, 2, 1)
        if grad_bias is not None:  # summed here, while the chunk is in the cache
            grad_bias += grad_rows.sum(axis=2)
        if not input_grad:
            continue
        if cache.columns is None:  # recomputed columns are used up: they take their gradient
            _fold_columns_gradient(grouped_weight, grad_rows, grad_source[images], cache.windows,
                                   columns)
            continue
        # Kept columns (the whole batch's) stay intact, so that a second backward of the same
        # forward still works. Their gradient is made a few images at a time, in a quarter of
        # the budget: a second array as large as the columns was LeNet-5's training step's
        # peak (45 -> 35 MB of arrays at batch 256).
        rows, per_image = columns.shape[1] * groups, grad_out.shape[2]
        for part, space in batch_chunks(source, rows * per_image, columns_budget(source) // 4):
            _fold_columns_gradient(grouped_weight,
                                   grad_rows[:, :, part.start * per_image : part.stop * per_image],
                                   grad_source[part], cache.windows, space)
    if grad_bias is not None:
        grad_bias = grad_bias.reshape(out_channels)
    return grad_source, grad_weight.reshape(weight.shape), grad_bias


def _fold_columns_gradient(grouped_weight, grad_rows, grad_source, windows: tuple, space):
    """grad_source (B, C, H, W) <- col2im of the columns' gradient W^T @ grad_rows, per group
    (C/g*kh*kw, O/g) @ (O/g, B*Ho*Wo), computed into ``space`` (as many entries; overwritten)."""
    xp = array_module(grad_rows)
    grad_columns = xp.matmul(grouped_weight.transpose(0, 2, 1), grad_rows,
                             out=space.reshape(grouped_weight.shape[0], -1, grad_rows.shape[2]))
    per_image = grad_rows.shape[2] // len(grad_source)
    kernels(grad_rows).col2im(grad_columns.reshape(-1, len(grad_source), per_image),
                              grad_source.shape, *windows, out=grad_source, overwrite_cols=True)
