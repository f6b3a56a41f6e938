"""Pooling layers: MaxPool2d, AvgPool2d, LPPool2d and AdaptiveAvgPool2d."""

from __future__ import annotations

import math
import numbers

from minicnn import functional as F
from minicnn.nn._checks import name_of, non_negative_pair, positive_int, positive_pair
from minicnn.nn._spatial import SpatialModule


class _WindowPool2d(SpatialModule):
    """What the fixed-window pools share: kernel, stride (default: the kernel), padding (at most
    kernel_size // 2, PyTorch's rule), dilation, ceil_mode, and the output-size check.

    The public attributes hold the arguments as given, as PyTorch's do; the ``_``-prefixed pairs
    are what forward computes with.
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False) -> None:
        super().__init__()
        name = f"{type(self).__name__}(kernel_size={kernel_size!r})"
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.ceil_mode = dilation, bool(ceil_mode)
        self._kernel = positive_pair(kernel_size, "kernel_size", name)
        self._stride = self._kernel if stride is None else positive_pair(stride, "stride", name)
        self._padding = non_negative_pair(padding, "padding", name)
        self._dilation = positive_pair(dilation, "dilation", name)
        # PyTorch's rule: padding <= kernel_size // 2 on each axis, whatever the dilation.
        if any(2 * pad > k for pad, k in zip(self._padding, self._kernel, strict=True)):
            raise ValueError(
                f"{name}: padding should be at most half of the kernel size, "
                f"got padding={padding!r} and kernel_size={kernel_size!r}"
            )

    def _check_output_size(self, x) -> None:
        out_size = F.pool_output_shape(
            x.shape[2:], self._kernel, self._stride, self._padding, self._dilation, self.ceil_mode
        )
        if min(out_size) < 1:
            (kh, kw), (dh, dw) = self._kernel, self._dilation
            raise ValueError(
                f"{name_of(self)}: input of spatial size {x.shape[2]}x{x.shape[3]} (H x W) is "
                f"too small for the {(kh - 1) * dh + 1}x{(kw - 1) * dw + 1} window with padding "
                f"{self._padding[0]}x{self._padding[1]}: the output would be "
                f"{out_size[0]}x{out_size[1]}"
            )


class MaxPool2d(_WindowPool2d):
    """Max over each window; with return_indices=True forward returns (out, indices), the
    indices being PyTorch's flat positions h*W + w in each input plane."""

    def __init__(
        self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
        ceil_mode=False,
    ) -> None:
        super().__init__(kernel_size, stride, padding, dilation, ceil_mode)
        self.stride = kernel_size if stride is None else stride  # as PyTorch stores it
        self.return_indices = bool(return_indices)

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )

    def forward(self, x):
        out = super().forward(x)
        if not self.return_indices:
            return out
        (cache, unbatched) = self._cache
        indices = cache.indices[0] if unbatched else cache.indices
        return out, indices.copy()  # the cache's own indices must survive the caller's edits

    def _forward_batch(self, x):
        self._check_output_size(x)
        return F.max_pool2d_forward(
            x, self._kernel, self._stride, self._padding, self._dilation, self.ceil_mode
        )

    def _backward_batch(self, grad_out, cache):
        return F.max_pool2d_backward(grad_out, cache)


class AvgPool2d(_WindowPool2d):
    """Mean over each window; count_include_pad counts the zero padding in the divisor,
    divisor_override replaces the divisor."""

    def __init__(
        self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
        divisor_override=None,
    ) -> None:
        super().__init__(kernel_size, stride, padding, 1, ceil_mode)
        self.stride = kernel_size if stride is None else stride  # as PyTorch stores it
        if divisor_override is not None:
            positive_int(divisor_override, "divisor_override", name_of(self))
        self.count_include_pad = bool(count_include_pad)
        self.divisor_override = divisor_override

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def _forward_batch(self, x):
        self._check_output_size(x)
        return F.avg_pool2d_forward(
            x, self._kernel, self._stride, self._padding, self.ceil_mode, self.count_include_pad,
            self.divisor_override,
        )

    def _backward_batch(self, grad_out, cache):
        return F.avg_pool2d_backward(grad_out, cache)


class LPPool2d(_WindowPool2d):
    """Power-average pooling: (sum over the window of x^p)^(1/p); p = 2 is L2 pooling,
    p = inf max |x|. With ceil_mode a clipped window's mean is scaled by the full kh*kw, as
    PyTorch does."""

    def __init__(self, norm_type: float, kernel_size, stride=None, ceil_mode=False) -> None:
        name = f"LPPool2d(norm_type={norm_type!r}, kernel_size={kernel_size!r})"
        if not isinstance(norm_type, numbers.Real) or isinstance(norm_type, bool):
            raise TypeError(f"{name}: norm_type must be a number, got {type(norm_type).__name__}")
        if norm_type == 0 or math.isnan(norm_type):
            raise ValueError(f"{name}: norm_type must be non-zero (the p of the p-norm)")
        super().__init__(kernel_size, stride, 0, 1, ceil_mode)
        self.norm_type = norm_type

    def extra_repr(self) -> str:
        return (
            f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"ceil_mode={self.ceil_mode}"
        )

    def _forward_batch(self, x):
        self._check_output_size(x)
        return F.lp_pool2d_forward(x, self.norm_type, self._kernel, self._stride, self.ceil_mode)

    def _backward_batch(self, grad_out, cache):
        return F.lp_pool2d_backward(grad_out, cache)


class AdaptiveAvgPool2d(SpatialModule):
    """Average into a fixed output size; output_size is an int or a pair whose None entries
    keep the input's size. Bin i along an axis covers [floor(i*H/O), ceil((i+1)*H/O))."""

    def __init__(self, output_size) -> None:
        super().__init__()
        name = f"AdaptiveAvgPool2d(output_size={output_size!r})"
        pair = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * 2
        if len(pair) != 2:
            raise ValueError(f"{name}: output_size must be an int or a pair, got {output_size!r}")
        for size in pair:
            if size is not None:
                positive_int(size, "output_size", name)
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"

    def _forward_batch(self, x):
        pair = self.output_size
        if not isinstance(pair, (tuple, list)):
            pair = (pair, pair)
        size = tuple(x.shape[2 + i] if s is None else s for i, s in enumerate(pair))
        return F.adaptive_avg_pool2d_forward(x, size)

    def _backward_batch(self, grad_out, cache):
        return F.adaptive_avg_pool2d_backward(grad_out, cache)
