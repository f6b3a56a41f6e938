"""The shared mechanism of layers over images: (N, C, H, W) input, or one unbatched (C, H, W)."""

from __future__ import annotations

from minicnn.nn._checks import check_input
from minicnn.nn.module import Module

IMAGE_LAYOUT = "(N, C, H, W) or unbatched (C, H, W)"


class SpatialModule(Module):
    """A layer that works on (N, C, H, W); an unbatched (C, H, W) input runs as a batch of one.

    Subclasses implement ``_forward_batch(x) -> (out, cache)`` and
    ``_backward_batch(grad_out, cache) -> grad_x`` on 4-D arrays.
    """

    def forward(self, x):
        check_input(self, x, (3, 4), IMAGE_LAYOUT, *self._parameter_dtype_device())
        if 0 in x.shape[-3:]:
            raise ValueError(
                f"{self!r}: expected non-empty channel, height and width {IMAGE_LAYOUT}, "
                f"got shape {tuple(x.shape)}"
            )
        unbatched = x.ndim == 3
        out, cache = self._forward_batch(x[None] if unbatched else x)
        out = out[0] if unbatched else out
        self._save_for_backward((cache, unbatched), out)
        return out

    def backward(self, grad_output):
        cache, unbatched = self._saved_for_backward(grad_output)
        grad_x = self._backward_batch(grad_output[None] if unbatched else grad_output, cache)
        return grad_x[0] if unbatched else grad_x

    def _forward_batch(self, x):
        raise NotImplementedError

    def _backward_batch(self, grad_out, cache):
        raise NotImplementedError
