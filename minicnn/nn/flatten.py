"""Flatten: merge a range of dims into one."""

from __future__ import annotations

from minicnn import functional as F
from minicnn.nn._checks import check_input, normalize_dim
from minicnn.nn.module import Module


class Flatten(Module):
    """Merge dims start_dim..end_dim; the default turns (N, C, H, W) into (N, C*H*W)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

    def forward(self, x):
        check_input(self, x, None)
        start = normalize_dim(self.start_dim, x.ndim, self)
        end = normalize_dim(self.end_dim, x.ndim, self)
        if start > end:
            raise ValueError(
                f"{self!r}: start_dim cannot come after end_dim for {x.ndim}-D input "
                f"(dims {start} and {end})"
            )
        out, in_shape = F.flatten_forward(x, start, end)
        self._save_for_backward(in_shape, out)
        return out

    def backward(self, grad_output):
        return F.flatten_backward(grad_output, self._saved_for_backward(grad_output))
