"""Activations: ReLU, Sigmoid, Tanh, Softmax, LogSoftmax (any input shape)."""

from __future__ import annotations

from minicnn import functional as F
from minicnn.backend import array_module
from minicnn.nn._checks import check_input, check_writeable, normalize_dim
from minicnn.nn.module import Module


class _Elementwise(Module):
    """A parameter-free layer that runs a functional forward/backward pair on any shape."""

    def _forward_pair(self, x):
        raise NotImplementedError

    def _backward_pair(self, grad_out, cache):
        raise NotImplementedError

    def forward(self, x):
        check_input(self, x, None)
        out, cache = self._forward_pair(x)
        out = array_module(x).asarray(out)  # NumPy turns 0-D results into scalars
        self._save_for_backward(cache, out)
        return out

    def backward(self, grad_output):
        grad_x = self._backward_pair(grad_output, self._saved_for_backward(grad_output))
        return array_module(grad_output).asarray(grad_x)


class ReLU(_Elementwise):
    """max(x, 0); ``inplace=True`` overwrites the input with the output."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""

    def _forward_pair(self, x):
        if self.inplace:
            check_writeable(self, x)
        return F.relu_forward(x, self.inplace)

    def _backward_pair(self, grad_out, cache):
        return F.relu_backward(grad_out, cache)


class Sigmoid(_Elementwise):
    """1 / (1 + exp(-x))."""

    def _forward_pair(self, x):
        return F.sigmoid_forward(x)

    def _backward_pair(self, grad_out, cache):
        return F.sigmoid_backward(grad_out, cache)


class Tanh(_Elementwise):
    """tanh(x)."""

    def _forward_pair(self, x):
        return F.tanh_forward(x)

    def _backward_pair(self, grad_out, cache):
        return F.tanh_backward(grad_out, cache)


def legacy_softmax_dim(ndim: int) -> int:
    """PyTorch's implicit dim for dim=None: 0 for 0-, 1- and 3-D input, else 1."""
    return 0 if ndim in (0, 1, 3) else 1


class _SoftmaxBase(_Elementwise):
    """Softmax-like along ``dim`` (None: PyTorch's legacy choice); a 0-D input is one element."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def extra_repr(self) -> str:
        return f"dim={self.dim}"

    def _forward_pair(self, x):
        dim = legacy_softmax_dim(x.ndim) if self.dim is None else self.dim
        dim = normalize_dim(dim, x.ndim, self)
        out, cache = self._along(x.reshape(x.shape or (1,)), dim)
        return out.reshape(x.shape), (cache, x.shape)

    def _backward_pair(self, grad_out, cache):
        inner, shape = cache
        return self._along_backward(grad_out.reshape(shape or (1,)), inner).reshape(shape)


class Softmax(_SoftmaxBase):
    """exp(x) / sum(exp(x)) along dim, computed with the max subtracted."""

    _along = staticmethod(F.softmax_forward)
    _along_backward = staticmethod(F.softmax_backward)


class LogSoftmax(_SoftmaxBase):
    """log(softmax(x)) along dim, as x - max - log(sum(exp(x - max)))."""

    _along = staticmethod(F.log_softmax_forward)
    _along_backward = staticmethod(F.log_softmax_backward)
