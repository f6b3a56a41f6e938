"""Element-wise activations and (log-)softmax, each a forward/backward pair.

Every forward returns (out, cache); every backward takes (grad_out, cache) and returns grad_x.
"""

from __future__ import annotations

from minicnn.backend import array_module, kernels


def relu_forward(x, inplace: bool = False):
    """y = max(x, 0); NaN stays NaN. ``inplace`` writes y into x."""
    out = kernels(x).relu_forward(x, out=x if inplace else None)
    return out, out


def relu_backward(grad_out, out):
    """dy/dx = 1 where y > 0, else 0: grad_x = grad_out where y > 0, else 0 (PyTorch's rule:
    zero exactly where y <= 0)."""
    return kernels(grad_out).relu_backward(grad_out, out)


def sigmoid_forward(x):
    """y = 1 / (1 + exp(-x)), evaluated as exp(-|x|) ratios so that no exp overflows."""
    xp = array_module(x)
    z = xp.exp(-xp.abs(x))
    out = xp.where(x >= 0, 1 / (1 + z), z / (1 + z))
    return out, out


def sigmoid_backward(grad_out, out):
    """dy/dx = y (1 - y)."""
    return grad_out * (1 - out) * out


def tanh_forward(x):
    """y = tanh(x)."""
    out = array_module(x).tanh(x)
    return out, out


def tanh_backward(grad_out, out):
    """dy/dx = 1 - y^2."""
    return grad_out * (1 - out * out)


def softmax_forward(x, dim: int):
    """y = exp(x - max) / sum(exp(x - max)) along ``dim``; the shift keeps every exp <= 1."""
    if x.shape[dim] == 0:  # empty rows: nothing to normalise (x.max would raise), as PyTorch
        return x.copy(), (x.copy(), dim)
    xp = array_module(x)
    shifted = xp.exp(x - x.max(axis=dim, keepdims=True))
    out = shifted / shifted.sum(axis=dim, keepdims=True)
    return out, (out, dim)


def softmax_backward(grad_out, cache):
    """Jacobian-vector product: grad_x = y * (grad_out - sum(grad_out * y, dim))."""
    out, dim = cache
    return out * (grad_out - (grad_out * out).sum(axis=dim, keepdims=True))


def log_softmax_forward(x, dim: int):
    """y = x - max - log(sum(exp(x - max))) along ``dim``: finite even at logits of +-1e4."""
    if x.shape[dim] == 0:  # empty rows: nothing to normalise (x.max would raise), as PyTorch
        return x.copy(), (x.copy(), dim)
    xp = array_module(x)
    shifted = x - x.max(axis=dim, keepdims=True)
    out = shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))
    return out, (out, dim)


def log_softmax_backward(grad_out, cache):
    """grad_x = grad_out - softmax(x) * sum(grad_out, dim), with softmax(x) = exp(y)."""
    out, dim = cache
    return grad_out - array_module(out).exp(out) * grad_out.sum(axis=dim, keepdims=True)
