"""Conv2d: 2-D convolution (cross-correlation, as PyTorch) over (N, C, H, W)."""

from __future__ import annotations

from minicnn import functional as F
from minicnn.functional.padding import PAD_MODES
from minicnn.nn import init
from minicnn.nn._checks import non_negative_pair, positive_int, positive_pair
from minicnn.nn._spatial import SpatialModule


class Conv2d(SpatialModule):
    """PyTorch's Conv2d: weight (out_channels, in_channels/groups, kh, kw), bias (out_channels,).

    padding is an int, a pair, 'valid' (none) or 'same' (output size = input size, stride 1;
    an odd total puts the extra row/column at the bottom/right). padding_mode is 'zeros',
    'reflect', 'replicate' or 'circular'.

    Memory: forward and backward unfold the batch (im2col) in chunks into a workspace of at
    most max(16 MiB, one image's columns) (``minicnn.functional.conv.COLUMNS_BUDGET_BYTES``).
    Between forward and backward the layer keeps a reference to its input (a padded copy for
    the modes other than 'zeros'), and the columns too when they fit in those 16 MiB; larger
    batches recompute them from the input in backward. On the GPU the budget is 512 MiB
    (``GPU_COLUMNS_BUDGET_BYTES``): most batches are one chunk, one GEMM, and keep their
    columns. A layer with one input channel per group at unit stride and dilation (a grayscale
    first layer, a depthwise convolution) runs without columns on the CPU; a 3x3 layer at unit
    stride and dilation with one group, at least 32 channels in and out and a zero border of
    at most 2 runs as Winograd's F(2x2, 3x3) on the CPU, its transformed tiles within the same
    budget (``minicnn.functional.winograd``; an inf or NaN sends that pass to im2col). As for
    Linear, changing the input array in place between forward and backward changes the
    gradients (PyTorch raises instead).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: str | None = None,
        dtype=None,
    ) -> None:
        super().__init__()
        name = f"Conv2d({in_channels}, {out_channels}, kernel_size={kernel_size!r})"
        self.in_channels = positive_int(in_channels, "in_channels", name)
        self.out_channels = positive_int(out_channels, "out_channels", name)
        self.kernel_size = positive_pair(kernel_size, "kernel_size", name)
        self.stride = positive_pair(stride, "stride", name)
        self.dilation = positive_pair(dilation, "dilation", name)
        self.groups = positive_int(groups, "groups", name)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(
                    f"{name}: padding must be an int, a pair, 'same' or 'valid', got {padding!r}"
                )
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(
                    f"{name}: padding='same' is not supported for strided convolutions "
                    f"(stride={self.stride}); use an explicit padding"
                )
            self.padding = padding
        else:
            self.padding = non_negative_pair(padding, "padding", name)
        if padding_mode not in PAD_MODES:
            raise ValueError(
                f"{name}: padding_mode must be one of {sorted(PAD_MODES)}, got {padding_mode!r}"
            )
        self.padding_mode = padding_mode
        for channels, label in ((in_channels, "in_channels"), (out_channels, "out_channels")):
            if channels % self.groups:
                raise ValueError(
                    f"{name}: {label} must be divisible by groups, got {label}={channels} "
                    f"and groups={self.groups}"
                )
        self.pads = F.conv2d_pads(self.padding, self.kernel_size, self.dilation)

        weight_shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight, self.bias = init.weight_and_bias(weight_shape, bias, dtype, name)
        if device is not None:
            self.to(device)

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text

    def _check_input_size(self, x) -> None:
        """Right channel count, a padding the mode can take, and a kernel that fits."""
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"{self!r}: expected input with {self.in_channels} channels "
                f"(N, {self.in_channels}, H, W), got shape {tuple(x.shape)}"
            )
        height, width = x.shape[2:]
        top, bottom, left, right = self.pads
        largest = (max(top, bottom), max(left, right))
        if self.padding_mode == "reflect" and (largest[0] >= height or largest[1] >= width):
            raise ValueError(
                f"{self!r}: padding_mode='reflect' needs each padding smaller than the input "
                f"size, got padding {self.pads} (top, bottom, left, right) for input "
                f"{height}x{width}"
            )
        if self.padding_mode == "circular" and (largest[0] > height or largest[1] > width):
            raise ValueError(
                f"{self!r}: padding_mode='circular' needs each padding at most the input size "
                f"(it would wrap around more than once), got padding {self.pads} for input "
                f"{height}x{width}"
            )
        padded = (height + top + bottom, width + left + right)
        if min(F.conv2d_output_size(padded, self.kernel_size, self.stride, self.dilation)) < 1:
            (kh, kw), (dh, dw) = self.kernel_size, self.dilation
            effective = ((kh - 1) * dh + 1, (kw - 1) * dw + 1)
            raise ValueError(
                f"{self!r}: padded input size per channel {padded[0]}x{padded[1]} is smaller "
                f"than the (dilated) kernel size {effective[0]}x{effective[1]}"
            )

    def _forward_batch(self, x):
        self._check_input_size(x)
        return F.conv2d_forward(
            x, self.weight.data, None if self.bias is None else self.bias.data, self.stride,
            self.pads, self.dilation, self.groups, self.padding_mode,
        )

    def _backward_batch(self, grad_out, cache, input_grad: bool = True):
        grad_x, grad_weight, grad_bias = F.conv2d_backward(grad_out, cache, input_grad)
        self.weight.accumulate_grad(grad_weight)
        if self.bias is not None:
            self.bias.accumulate_grad(grad_bias)
        return grad_x

    def parameter_backward(self, grad_output) -> None:
        """dW and db alone: no W^T @ G, no col2im (see Module.parameter_backward)."""
        cache, unbatched = self._saved_for_backward(grad_output)
        self._backward_batch(grad_output[None] if unbatched else grad_output, cache, False)
