"""Linear: y = x A^T + b over any leading dims."""

from __future__ import annotations

from minicnn import functional as F
from minicnn.nn import init
from minicnn.nn._checks import check_input, positive_int
from minicnn.nn.module import Module


class Linear(Module):
    """PyTorch's Linear: weight (out_features, in_features), bias (out_features,)."""

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, device: str | None = None,
        dtype=None,
    ) -> None:
        super().__init__()
        name = f"Linear(in_features={in_features}, out_features={out_features})"
        self.in_features = positive_int(in_features, "in_features", name)
        self.out_features = positive_int(out_features, "out_features", name)
        weight_shape = (out_features, in_features)
        self.weight, self.bias = init.weight_and_bias(weight_shape, bias, dtype, name)
        if device is not None:
            self.to(device)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )

    def forward(self, x):
        check_input(self, x, None, "", *self._parameter_dtype_device())
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"{self!r}: expected input of shape (..., {self.in_features}), "
                f"got shape {tuple(x.shape)}"
            )
        bias = None if self.bias is None else self.bias.data
        out, cache = F.linear_forward(x, self.weight.data, bias)
        self._save_for_backward(cache, out)
        return out

    def backward(self, grad_output):
        return self._backward(grad_output, input_grad=True)

    def parameter_backward(self, grad_output) -> None:
        """dA and db alone, no G @ A (see Module.parameter_backward)."""
        self._backward(grad_output, input_grad=False)

    def _backward(self, grad_output, input_grad: bool):
        grad_x, grad_weight, grad_bias = F.linear_backward(
            grad_output, self._saved_for_backward(grad_output), input_grad
        )
        self.weight.accumulate_grad(grad_weight)
        if self.bias is not None:
            self.bias.accumulate_grad(grad_bias)
        return grad_x
