"""Parameter: an array a layer learns, and the gradient backward adds into."""

from __future__ import annotations

import numpy as np

from minicnn.backend import array_module


class Parameter:
    """Holds ``.data`` (the array) and ``.grad`` (None until a backward adds a gradient)."""

    __slots__ = ("data", "grad")

    def __init__(self, data) -> None:
        if array_module(data) is np and not isinstance(data, np.ndarray):
            raise TypeError(
                f"Parameter: data must be a numpy or cupy array, got {type(data).__name__} "
                "(np.asarray(value) makes a 0-d array of a number)"
            )
        self.data = data
        self.grad = None

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    def accumulate_grad(self, grad) -> None:
        """grad_total += grad, as PyTorch accumulates until ``zero_grad``.

        A gradient of another shape or dtype is a bug in a backward: it fails here rather
        than being broadcast or cast silently.
        """
        if grad.shape != self.data.shape or grad.dtype != self.data.dtype:
            raise RuntimeError(
                f"gradient of shape {tuple(grad.shape)} and dtype {grad.dtype} for a parameter "
                f"of shape {tuple(self.data.shape)} and dtype {self.data.dtype}"
            )
        if self.grad is None:
            self.grad = array_module(grad).array(grad, copy=True)
        else:
            self.grad += grad

    def __repr__(self) -> str:
        return f"Parameter(shape={tuple(self.shape)}, dtype={self.dtype})"
