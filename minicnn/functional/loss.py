"""Element-wise losses (MSE, BCE, BCE with logits) and the reduction every loss shares.

A loss first computes one value per element (or per sample), ``loss_i``, then reduces:
'none' keeps them, 'sum' adds them, 'mean' adds them and divides by a divisor (the element count,
or for weighted class losses the summed weights). Backward runs the same steps in reverse:
``d reduced / d loss_i`` is grad_out for 'none' and 'sum', and grad_out / divisor for 'mean'.
"""

from __future__ import annotations

import numpy as np

from minicnn.backend import array_module
from minicnn.functional.activation import sigmoid_forward

REDUCTIONS = ("mean", "sum", "none")

# BCELoss clamps each log at -100 and its backward divides by max(x (1 - x), eps), as PyTorch,
# whose eps is the float32 nearest 1e-12 in every dtype.
LOG_CLAMP = -100.0
BCE_GRAD_EPS = float(np.float32(1e-12))


def reduce_loss(loss, reduction: str, divisor):
    """'none': ``loss``; 'sum': sum(loss); 'mean': sum(loss) / divisor (0 / 0 gives NaN, as in
    PyTorch)."""
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    with np.errstate(divide="ignore", invalid="ignore"):
        return total / divisor


def reduce_loss_backward(grad_out, reduction: str, divisor):
    """d reduced / d loss_i, times grad_out: grad_out (the loss's shape for 'none', a 0-d array
    otherwise, which broadcasts over every loss_i), divided by the divisor for 'mean'."""
    if reduction != "mean":
        return grad_out
    with np.errstate(divide="ignore", invalid="ignore"):
        return grad_out / divisor


def mse_loss_forward(input, target, reduction: str):
    """loss_i = (x_i - t_i)^2; 'mean' divides by the element count."""
    diff = input - target
    return reduce_loss(diff * diff, reduction, diff.size), (diff, reduction)


def mse_loss_backward(grad_out, cache):
    """d loss_i / d x_i = 2 (x_i - t_i); chain rule with the reduction's factor."""
    diff, reduction = cache
    return 2 * diff * reduce_loss_backward(grad_out, reduction, diff.size)


def bce_loss_forward(input, target, weight, reduction: str):
    """loss_i = -w_i (t_i log x_i + (1 - t_i) log(1 - x_i)) for probabilities x_i in [0, 1],
    each log clamped at -100 so that x = 0 or 1 gives a finite loss (PyTorch's rule)."""
    xp = array_module(input)
    with np.errstate(divide="ignore"):
        log_x = xp.maximum(xp.log(input), LOG_CLAMP)
        log_one_minus_x = xp.maximum(xp.log1p(-input), LOG_CLAMP)
    loss = (target - 1) * log_one_minus_x - target * log_x
    if weight is not None:
        loss = loss * weight
    return reduce_loss(loss, reduction, loss.size), (input, target, weight, reduction)


def bce_loss_backward(grad_out, cache):
    """d loss_i / d x_i = w_i (x_i - t_i) / (x_i (1 - x_i)), the denominator floored at ~1e-12
    (PyTorch's rule, which keeps x = 0 or 1 finite)."""
    input, target, weight, reduction = cache
    xp = array_module(input)
    grad = (input - target) / xp.maximum((1 - input) * input, BCE_GRAD_EPS)
    if weight is not None:
        grad = grad * weight
    return grad * reduce_loss_backward(grad_out, reduction, input.size)


def log_sigmoid(x):
    """log(sigmoid(x)) = min(x, 0) - log(1 + exp(-|x|)): no exp overflows at any x."""
    xp = array_module(x)
    return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))


def bce_with_logits_forward(input, target, weight, pos_weight, reduction: str):
    """loss_i = -w_i (p t_i log sigmoid(x_i) + (1 - t_i) log(1 - sigmoid(x_i))) on logits x_i,
    with p = pos_weight (1 without). Evaluated as PyTorch does, with log(1 - sigmoid(x)) =
    log sigmoid(x) - x: loss_i = w_i ((1 - t_i) x_i - (1 + (p - 1) t_i) log sigmoid(x_i))."""
    log_sig = log_sigmoid(input)
    with np.errstate(invalid="ignore"):  # inf - inf at infinite logits gives NaN, as in PyTorch
        if pos_weight is not None:
            log_sig = log_sig * ((pos_weight - 1) * target + 1)
        loss = (1 - target) * input - log_sig
    if weight is not None:
        loss = loss * weight
    return reduce_loss(loss, reduction, loss.size), (input, target, weight, pos_weight, reduction)


def bce_with_logits_backward(grad_out, cache):
    """d loss_i / d x_i = w_i ((1 + (p - 1) t_i) sigmoid(x_i) - p t_i), which is
    w_i (sigmoid(x_i) - t_i) without pos_weight."""
    input, target, weight, pos_weight, reduction = cache
    sig, _ = sigmoid_forward(input)
    if pos_weight is None:
        grad = sig - target
    else:
        weighted_target = pos_weight * target
        grad = (weighted_target + 1 - target) * sig - weighted_target
    if weight is not None:
        grad = grad * weight
    return grad * reduce_loss_backward(grad_out, reduction, input.size)
