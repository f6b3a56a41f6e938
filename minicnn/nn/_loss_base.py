"""What every loss shares: the reduction argument, calling and backward, and the checks of
targets and weights. The losses themselves are in ``loss.py``."""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from minicnn.backend import array_module, device_of, to_device
from minicnn.backend.devices import full_on
from minicnn.functional.loss import REDUCTIONS
from minicnn.nn._checks import check_input, is_array, name_of
from minicnn.nn.module import Module


def legacy_reduction(size_average, reduce) -> str:
    """The reduction meant by PyTorch's deprecated flags (each None counts as True):
    reduce=False gives 'none', else size_average picks 'mean' (True) or 'sum' (False)."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    reduction = "mean" if size_average and reduce else "sum" if reduce else "none"
    warnings.warn(
        f"size_average and reduce args will be deprecated, please use "
        f"reduction='{reduction}' instead.",
        UserWarning,
        stacklevel=4,
    )
    return reduction


def as_float_array(value, name: str, layer: str, ndim: int | None = None):
    """A weight given as an array or a sequence of numbers (kept as given when it is already a
    float array, so that it follows the caller's array as PyTorch's buffers do)."""
    try:
        array = value if is_array(value) else np.asarray(value)
    except ValueError:  # ragged nested lists
        array = np.asarray(None)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{layer}: {name} must be an array of numbers, got {value!r}")
    if array.dtype.kind != "f":
        array = array.astype(np.float64)
    if ndim is not None and array.ndim != ndim:
        raise ValueError(
            f"{layer}: {name} must be a 1-D array with one entry per class, got shape "
            f"{tuple(array.shape)}"
        )
    return array


def on_input(value, input):
    """``value`` (a weight) on the input's device in the input's dtype: float32 stays float32."""
    return to_device(value, device_of(input)).astype(input.dtype, copy=False)


class Loss(Module):
    """Base of the losses: ``loss(input, target)`` returns the loss (a 0-d array for 'mean' and
    'sum', one value per element or sample for 'none'); ``backward(grad_output=1.0)`` returns
    d loss / d input. A subclass implements ``_forward_pair`` (checks, then the functional
    forward) and ``_backward_pair``."""

    def __init__(self, reduction: str = "mean", size_average=None, reduce=None) -> None:
        super().__init__()
        if size_average is not None or reduce is not None:
            reduction = legacy_reduction(size_average, reduce)
        if reduction not in REDUCTIONS:
            raise ValueError(
                f"{type(self).__name__}: reduction must be one of {REDUCTIONS}, got {reduction!r}"
            )
        self.reduction = reduction

    def _forward_pair(self, input, target):
        raise NotImplementedError

    def _backward_pair(self, grad_out, cache):
        raise NotImplementedError

    def forward(self, input, target):
        check_input(self, input, None)
        out, cache = self._forward_pair(input, target)
        out = array_module(input).asarray(out)  # NumPy returns sums as scalars, not 0-d arrays
        self._save_for_backward(cache, out)
        self._device = device_of(input)
        return out

    def backward(self, grad_output=1.0):
        """d loss / d input. ``grad_output`` is d(whatever follows) / d loss: a number for a
        scalar loss ('mean', 'sum'), an array of the loss's shape for 'none'."""
        if self._cache is None:
            raise RuntimeError(f"{self!r}: backward() called before forward()")
        shape, dtype = self._out_meta
        if shape == () and isinstance(grad_output, numbers.Real) and grad_output is not True:
            grad = full_on(self._device, grad_output, dtype)
        elif shape == () and is_array(grad_output) and grad_output.shape == ():
            if grad_output.dtype.kind not in "biuf":
                raise TypeError(f"{self!r}: grad_output must be a number, got {grad_output!r}")
            grad = grad_output.astype(dtype, copy=False)
        elif shape != () and not is_array(grad_output):
            raise ValueError(
                f"{self!r}: with reduction='none' the loss has shape {shape}; backward needs a "
                f"grad_output of that shape (e.g. ones for a plain sum), got {grad_output!r}"
            )
        else:
            grad = grad_output
            self._saved_for_backward(grad)  # checks shape and dtype against the loss
        grad_input = self._backward_pair(grad, self._cache)
        return array_module(grad_input).asarray(grad_input)  # 0-d results as arrays

    # --- checks shared by the losses ------------------------------------------------------

    def _check_same_device(self, input, other, name: str) -> None:
        if device_of(other) != device_of(input):
            raise TypeError(
                f"{name_of(self)}: {name} is on device '{device_of(other)}' but the input is on "
                f"'{device_of(input)}'; move one of them"
            )

    def _real_target(self, input, target):
        """A target of the input's shape (MSE, BCE): any real dtype, as the input's dtype."""
        if not is_array(target):
            raise TypeError(f"{self!r}: target must be an array, got {type(target).__name__}")
        if target.dtype.kind not in "biuf":
            raise TypeError(f"{self!r}: target must hold numbers, got dtype {target.dtype}")
        if target.shape != input.shape:
            raise ValueError(
                f"{self!r}: target must have the input's shape {tuple(input.shape)}, got "
                f"{tuple(target.shape)}"
            )
        self._check_same_device(input, target, "target")
        return target.astype(input.dtype, copy=False)

    def _broadcast_weight(self, weight, input, name: str):
        """``weight`` (None or an array broadcastable to the input's shape) on the input."""
        if weight is None:
            return None
        try:
            shape = np.broadcast_shapes(weight.shape, input.shape)
        except ValueError:
            shape = None
        if shape != input.shape:
            raise ValueError(
                f"{self!r}: {name} of shape {tuple(weight.shape)} does not broadcast to the "
                f"input's shape {tuple(input.shape)}"
            )
        return on_input(weight, input)


class ClassLoss(Loss):
    """A loss over class scores (N, C), (N, C, d1, ...) or (C,) with class-index targets."""

    ignore_index = None  # NLL and cross-entropy set theirs; focal loss counts every target

    def _check_scores(self, input) -> int:
        """The number of classes C, after checking the scores' shape."""
        if input.ndim == 0 or input.shape[0 if input.ndim == 1 else 1] == 0:
            raise ValueError(
                f"{self!r}: expected scores of shape (N, C), (N, C, d1, ...) or unbatched (C,) "
                f"with C >= 1 classes, got shape {tuple(input.shape)}"
            )
        return input.shape[0 if input.ndim == 1 else 1]

    def _class_weights(self, weight, input, name: str = "weight"):
        """A (C,) per-class weight on the input, or None."""
        if weight is None:
            return None
        num_classes = self._check_scores(input)
        if weight.shape != (num_classes,):
            raise ValueError(
                f"{self!r}: {name} must have one entry per class, shape ({num_classes},) for "
                f"input of shape {tuple(input.shape)}, got shape {tuple(weight.shape)}"
            )
        return on_input(weight, input)

    def _class_indices(self, input, target, probabilities: bool = False):
        """Integer class indices of the input's shape without the class dim, as int64, each in
        [0, C) or equal to ``ignore_index``; or, when ``probabilities`` is allowed, a float
        target of the input's shape (class probabilities), as the input's dtype."""
        num_classes = self._check_scores(input)
        if not is_array(target):
            raise TypeError(f"{self!r}: target must be an array, got {type(target).__name__}")
        self._check_same_device(input, target, "target")
        if probabilities and target.dtype.kind == "f":
            if self.ignore_index is not None and self.ignore_index >= 0:
                raise ValueError(
                    f"{self!r}: ignore_index={self.ignore_index} is not supported for class-"
                    "probability (float) targets; give the ignored samples zero probabilities"
                )
            if target.shape != input.shape:
                raise ValueError(
                    f"{self!r}: class-probability targets must have the input's shape "
                    f"{tuple(input.shape)}, got {tuple(target.shape)}"
                )
            return target.astype(input.dtype, copy=False)
        if target.dtype.kind not in "iu":
            alternative = " or class probabilities of the input's dtype" if probabilities else ""
            raise TypeError(
                f"{self!r}: target must hold integer class indices{alternative}, got dtype "
                f"{target.dtype}"
            )
        expected = tuple(input.shape[:1] + input.shape[2:]) if input.ndim > 1 else ()
        if tuple(target.shape) != expected:
            raise ValueError(
                f"{self!r}: expected target of shape {expected} (the input's shape without its "
                f"class dim) for input of shape {tuple(input.shape)}, got {tuple(target.shape)}"
            )
        # checked in the target's own dtype: a uint64 beyond int64 must not wrap around
        out_of_range = (target < 0) | (target >= num_classes)
        if self.ignore_index is not None:
            out_of_range &= target != self.ignore_index
        if out_of_range.any():
            value = int(target[out_of_range].ravel()[0])
            ignore = "" if self.ignore_index is None else f" or ignore_index={self.ignore_index}"
            raise IndexError(
                f"{self!r}: target {value} is out of bounds: expected class indices in "
                f"[0, {num_classes - 1}]{ignore}"
            )
        return target.astype(np.int64, copy=False)
