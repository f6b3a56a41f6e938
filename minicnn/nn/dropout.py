"""Dropout: random zeroing in training, identity in evaluation."""

from __future__ import annotations

import numbers

from minicnn import functional as F
from minicnn.nn._checks import check_input, check_writeable
from minicnn.nn.module import Module


class Dropout(Module):
    """Zero each element with probability p and scale the rest by 1/(1-p) while training.

    Masks come from minicnn's generator (``minicnn.manual_seed``); in eval mode it is the
    identity.
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not isinstance(p, numbers.Real) or isinstance(p, bool):
            raise TypeError(f"Dropout: p must be a float, got {type(p).__name__}")
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace  # p as given, as PyTorch keeps it (repr 'p=1')

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"

    def forward(self, x):
        check_input(self, x, None)
        if self.inplace:
            check_writeable(self, x)
        if self.training and self.p > 0:
            out, scaled_mask = F.dropout_forward(x, self.p, self.inplace)
        else:
            out, scaled_mask = x, None
        self._save_for_backward((scaled_mask,), out)
        return out

    def backward(self, grad_output):
        (scaled_mask,) = self._saved_for_backward(grad_output)
        if scaled_mask is None:
            return grad_output
        return F.dropout_backward(grad_output, scaled_mask)
