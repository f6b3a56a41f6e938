"""Losses, named and parameterised as in ``torch.nn``, plus FocalLoss.

``loss(input, target)`` returns the loss; ``loss.backward(grad_output=1.0)`` returns
d loss / d input, to hand to the model's ``backward``. The deprecated ``size_average`` /
``reduce`` flags are keyword-only here and mean what they mean in PyTorch.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from minicnn import functional as F
from minicnn.backend import array_module
from minicnn.nn._checks import float_dtype, is_array, positive_int
from minicnn.nn._loss_base import ClassLoss, Loss, as_float_array


class MSELoss(Loss):
    """Mean squared error: (x - t)^2 per element, then the reduction."""

    def __init__(self, reduction: str = "mean", *, size_average=None, reduce=None) -> None:
        super().__init__(reduction, size_average, reduce)

    def _forward_pair(self, input, target):
        return F.mse_loss_forward(input, self._real_target(input, target), self.reduction)

    def _backward_pair(self, grad_out, cache):
        return F.mse_loss_backward(grad_out, cache)


class BCELoss(Loss):
    """Binary cross-entropy on probabilities in [0, 1] (e.g. a Sigmoid's output):
    -w (t log x + (1 - t) log(1 - x)), each log clamped at -100. ``weight`` broadcasts to the
    input's shape. For logits, BCEWithLogitsLoss is the numerically safer choice."""

    def __init__(
        self, weight=None, reduction: str = "mean", *, size_average=None, reduce=None
    ) -> None:
        super().__init__(reduction, size_average, reduce)
        self.weight = None if weight is None else as_float_array(weight, "weight", "BCELoss")

    def _forward_pair(self, input, target):
        target = self._real_target(input, target)
        weight = self._broadcast_weight(self.weight, input, "weight")
        if not bool(((input >= 0) & (input <= 1)).all()):
            xp = array_module(input)
            found = "NaN" if bool(xp.isnan(input).any()) else (
                f"values in [{float(input.min())}, {float(input.max())}]"
            )
            raise ValueError(
                f"{self!r}: all elements of input should be between 0 and 1 (probabilities), got "
                f"{found}; for logits use BCEWithLogitsLoss"
            )
        return F.bce_loss_forward(input, target, weight, self.reduction)

    def _backward_pair(self, grad_out, cache):
        return F.bce_loss_backward(grad_out, cache)


class BCEWithLogitsLoss(Loss):
    """Sigmoid and binary cross-entropy in one step, on logits, stable at any magnitude.
    ``weight`` broadcasts to the input's shape; ``pos_weight`` p (e.g. one entry per class
    along the last dim) weights the positive term:
    -w (p t log sigmoid(x) + (1 - t) log(1 - sigmoid(x)))."""

    def __init__(
        self,
        weight=None,
        reduction: str = "mean",
        pos_weight=None,
        *,
        size_average=None,
        reduce=None,
    ) -> None:
        super().__init__(reduction, size_average, reduce)
        name = "BCEWithLogitsLoss"
        self.weight = None if weight is None else as_float_array(weight, "weight", name)
        self.pos_weight = (
            None if pos_weight is None else as_float_array(pos_weight, "pos_weight", name)
        )

    def _forward_pair(self, input, target):
        target = self._real_target(input, target)
        weight = self._broadcast_weight(self.weight, input, "weight")
        pos_weight = self._broadcast_weight(self.pos_weight, input, "pos_weight")
        return F.bce_with_logits_forward(input, target, weight, pos_weight, self.reduction)

    def _backward_pair(self, grad_out, cache):
        return F.bce_with_logits_backward(grad_out, cache)


def _ignore_index(value, layer: str) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{layer}: ignore_index must be an int, got {value!r}")
    return int(value)


class NLLLoss(ClassLoss):
    """Negative log-likelihood of log-probabilities (e.g. a LogSoftmax's output):
    -w[t] * input[t] per sample; 'mean' divides by the summed weights of the counted targets;
    targets equal to ``ignore_index`` count for nothing."""

    def __init__(
        self,
        weight=None,
        ignore_index: int = -100,
        reduction: str = "mean",
        *,
        size_average=None,
        reduce=None,
    ) -> None:
        super().__init__(reduction, size_average, reduce)
        self.weight = None if weight is None else as_float_array(weight, "weight", "NLLLoss", 1)
        self.ignore_index = _ignore_index(ignore_index, "NLLLoss")

    def _forward_pair(self, input, target):
        target = self._class_indices(input, target)
        weight = self._class_weights(self.weight, input)
        return F.nll_loss_forward(input, target, weight, self.ignore_index, self.reduction)

    def _backward_pair(self, grad_out, cache):
        return F.nll_loss_backward(grad_out, cache)


class CrossEntropyLoss(ClassLoss):
    """Cross-entropy on logits: log_softmax over the class dim, then NLL (class-index targets)
    or -sum_c w[c] t[c] log p[c] (class-probability targets of the input's shape).
    ``label_smoothing`` eps mixes the target with the uniform distribution: (1 - eps) t + eps/C.
    Stable at logits of any magnitude (log-sum-exp)."""

    def __init__(
        self,
        weight=None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
        *,
        size_average=None,
        reduce=None,
    ) -> None:
        super().__init__(reduction, size_average, reduce)
        name = "CrossEntropyLoss"
        self.weight = None if weight is None else as_float_array(weight, "weight", name, 1)
        self.ignore_index = _ignore_index(ignore_index, name)
        if not isinstance(label_smoothing, numbers.Real) or isinstance(label_smoothing, bool):
            raise TypeError(f"{name}: label_smoothing must be a float, got {label_smoothing!r}")
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(
                f"{name}: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}"
            )
        self.label_smoothing = float(label_smoothing)

    def _forward_pair(self, input, target):
        target = self._class_indices(input, target, probabilities=True)
        weight = self._class_weights(self.weight, input)
        return F.cross_entropy_forward(
            input, target, weight, self.ignore_index, self.reduction, self.label_smoothing
        )

    def _backward_pair(self, grad_out, cache):
        return F.cross_entropy_backward(grad_out, cache)


class FocalLoss(ClassLoss):
    """Focal loss (Lin et al., 2017) over logits with class-index targets:
    -alpha_t (1 - p_t)^gamma log p_t, p_t = softmax(x)[t]. gamma >= 0 down-weights the samples
    the model already gets right (gamma = 0 is cross-entropy). ``alpha``: None (1), a float
    that scales every sample, or one weight per class (alpha_t = alpha[t]). 'mean' divides by
    the number of samples (not by the summed alphas, unlike weighted cross-entropy)."""

    def __init__(self, gamma: float = 2.0, alpha=None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        if not isinstance(gamma, numbers.Real) or isinstance(gamma, bool):
            raise TypeError(f"FocalLoss: gamma must be a float, got {gamma!r}")
        if not 0 <= gamma < math.inf:
            raise ValueError(f"FocalLoss: gamma must be finite and >= 0, got {gamma}")
        self.gamma = float(gamma)
        if isinstance(alpha, bool):
            raise TypeError(f"FocalLoss: alpha must be None, a float or one weight per class, "
                            f"got {alpha!r}")
        if isinstance(alpha, numbers.Real):
            alpha = float(alpha)
        elif alpha is not None:
            alpha = as_float_array(alpha, "alpha", "FocalLoss", 1)
        self.alpha = alpha

    def extra_repr(self) -> str:
        alpha = self.alpha if self.alpha is None or isinstance(self.alpha, float) else "per class"
        return f"gamma={self.gamma}, alpha={alpha}"

    def _forward_pair(self, input, target):
        target = self._class_indices(input, target)
        alpha = self.alpha
        if alpha is not None and not isinstance(alpha, float):
            alpha = self._class_weights(alpha, input, "alpha")
        return F.focal_loss_forward(input, target, self.gamma, alpha, self.reduction)

    def _backward_pair(self, grad_out, cache):
        return F.focal_loss_backward(grad_out, cache)


def class_weights(targets, num_classes: int, *, dtype=np.float32):
    """Balanced class weights for ``CrossEntropyLoss(weight=...)``: inverse class frequency
    normalised to mean 1, w[c] = (1 / n_c) / mean_k(1 / n_k), n_c = the count of class c in
    ``targets`` (integer class indices of any shape). Rare classes weigh more.

    A class absent from ``targets`` has no finite inverse frequency: that raises a ValueError
    naming the classes (drop them from num_classes, or build the weights yourself).
    """
    num_classes = positive_int(num_classes, "num_classes", "class_weights")
    dtype = float_dtype(dtype, "class_weights")
    if not is_array(targets):
        try:
            targets = np.asarray(targets, dtype=np.int64 if len(targets) == 0 else None)
        except (TypeError, ValueError):  # ragged lists, objects
            targets = np.asarray(None)
    if targets.dtype.kind not in "iu":
        raise TypeError(
            f"class_weights: targets must hold integer class indices, got dtype {targets.dtype}"
        )
    xp = array_module(targets)
    flat = targets.ravel()
    out_of_range = (flat < 0) | (flat >= num_classes)  # in the targets' dtype: no wrap-around
    if out_of_range.any():
        raise IndexError(
            f"class_weights: target {int(flat[out_of_range][0])} is out of bounds: expected class "
            f"indices in [0, {num_classes - 1}]"
        )
    counts = xp.bincount(flat.astype(np.int64, copy=False), minlength=num_classes)
    if not counts.all():
        absent = [int(c) for c in xp.flatnonzero(counts == 0)]
        raise ValueError(
            f"class_weights: classes {absent} do not occur in targets, so their inverse "
            f"frequency is infinite; pass the targets of the whole training set, leave those "
            f"classes out of num_classes, or set their weights yourself"
        )
    inverse = 1.0 / counts
    return (inverse / inverse.mean()).astype(dtype)
