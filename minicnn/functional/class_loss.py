"""Losses over class scores: NLL, cross-entropy (= log_softmax then NLL) and focal loss.

Shapes: scores ``(N, C)``, ``(N, C, d1, ..., dk)`` (one prediction per position, e.g. per pixel)
or unbatched ``(C,)``. Class-index targets have the scores' shape without the class dim:
``(N,)``, ``(N, d1, ..., dk)`` or ``()``. Internally everything is viewed as scores
``(N, C, M)`` and targets ``(N, M)``, M = d1 * ... * dk (1 without extra dims), so one code path
serves every case. "Sample i" below means one (n, m) pair.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from minicnn.backend import array_module, kernels
from minicnn.functional.activation import log_softmax_backward, log_softmax_forward
from minicnn.functional.loss import reduce_loss, reduce_loss_backward


def class_dim(shape: tuple) -> int:
    """The class dim of scores of this shape: 0 for unbatched (C,), else 1."""
    return 0 if len(shape) == 1 else 1


def _as_ncm(scores):
    """(N, C, d1, ..., dk) viewed as (N, C, M); unbatched (C,) as (1, C, 1)."""
    if scores.ndim == 1:
        return scores.reshape(1, scores.shape[0], 1)
    return scores.reshape(scores.shape[0], scores.shape[1], math.prod(scores.shape[2:]))


def _per_sample(scale, n: int, m: int):
    """A reduction's backward factor as (N, M): a 'none' gradient reshaped, a scalar as is."""
    return scale.reshape(n, m) if scale.ndim else scale


def _pick(scores3, target2):
    """scores3[n, target2[n, m], m] for every (n, m): the score of each sample's target class."""
    xp = array_module(scores3)
    return xp.take_along_axis(scores3, target2[:, None, :], axis=1)[:, 0, :]


def _scatter(values2, target2, num_classes: int):
    """The (N, C, M) array holding values2[n, m] at class target2[n, m] and 0 elsewhere
    (the backward of ``_pick``)."""
    xp = array_module(values2)
    one_hot = xp.arange(num_classes)[None, :, None] == target2[:, None, :]
    return xp.where(one_hot, values2[:, None, :], xp.zeros((), dtype=values2.dtype))


class NLLCache(NamedTuple):
    """What NLL's backward (and cross-entropy's smoothing term) needs from its forward."""

    shape: tuple  # the log-probabilities' shape
    safe_targets: object  # (N, M) class indices, ignored samples pointing at class 0
    counted: object  # (N, M) bool: target != ignore_index
    target_weights: object  # (N, M) w[t_i], 0 for ignored samples
    divisor: object  # 0-d: the summed target weights, 'mean''s divisor
    reduction: str


def nll_loss_forward(log_probs, target, weight, ignore_index: int, reduction: str):
    """loss_i = -w[t_i] * log_probs[i, t_i], and 0 where t_i == ignore_index.

    'mean' divides the sum by the summed weights w[t_i] of the counted samples (NaN when none
    counts), so that class weights rebalance the batch instead of rescaling the loss.
    ``weight`` is None (every w = 1) or (C,); ``target`` holds int64 class indices.
    """
    xp = array_module(log_probs)
    zero = xp.zeros((), log_probs.dtype)
    scores = _as_ncm(log_probs)
    targets = target.reshape(scores.shape[0], scores.shape[2])
    counted = targets != ignore_index
    safe_targets = xp.where(counted, targets, 0)
    if weight is None:
        target_weights = counted.astype(log_probs.dtype)
    else:
        target_weights = xp.where(counted, weight[safe_targets], zero)
    with np.errstate(invalid="ignore"):  # 0 * -inf in ignored samples: replaced by 0
        loss = xp.where(counted, -target_weights * _pick(scores, safe_targets), zero)
    divisor = target_weights.sum()
    out = reduce_loss(loss.reshape(target.shape), reduction, divisor)
    return out, NLLCache(log_probs.shape, safe_targets, counted, target_weights, divisor, reduction)


def nll_loss_backward(grad_out, cache: NLLCache):
    """d loss_i / d log_probs[i, c] = -w[t_i] where c == t_i, else 0 (0 for ignored samples);
    times the reduction's factor (grad_out, divided by the summed weights for 'mean')."""
    n, m = cache.safe_targets.shape
    scale = _per_sample(reduce_loss_backward(grad_out, cache.reduction, cache.divisor), n, m)
    num_classes = cache.shape[class_dim(cache.shape)]
    xp = array_module(scale)
    with np.errstate(invalid="ignore"):  # 0 * inf when no target counts: those stay 0 below
        values = xp.where(cache.counted, -cache.target_weights * scale, xp.zeros((), scale.dtype))
    return _scatter(values, cache.safe_targets, num_classes).reshape(cache.shape)


def _soft_nll_forward(log_probs, q, counted, reduction: str, divisor):
    """loss_i = -sum_c q[i, c] log_probs[i, c] on (N, C, M) log-probabilities, where q is a
    (weighted) target distribution; samples outside ``counted`` (when given) give 0."""
    xp = array_module(log_probs)
    with np.errstate(invalid="ignore"):  # 0 * -inf (a masked logit) gives NaN, as in PyTorch
        loss = -(log_probs * q).sum(axis=1)
    if counted is not None:
        loss = xp.where(counted, loss, xp.zeros((), loss.dtype))
    return reduce_loss(loss, reduction, divisor), (log_probs.shape, q, counted, divisor, reduction)


def _soft_nll_backward(grad_out, cache):
    """d loss_i / d log_probs[i, c] = -q[i, c], times the reduction's factor (0 where not
    counted)."""
    shape, q, counted, divisor, reduction = cache
    xp = array_module(grad_out)
    n, _, m = shape
    scale = _per_sample(reduce_loss_backward(grad_out, reduction, divisor), n, m)
    grad = xp.broadcast_to(-q * (scale[:, None, :] if scale.ndim else scale), shape)
    if counted is not None:
        grad = xp.where(counted[:, None, :], grad, xp.zeros((), grad.dtype))
    return grad


class CrossEntropyRowsCache(NamedTuple):
    """What the common case's backward needs: (N, C) logits, class indices, no smoothing."""

    logits: object
    target: object
    row_weight: object
    top: object
    log_sum: object
    ignore_index: int
    divisor: object
    reduction: str


def _by_rows(logits, target, label_smoothing: float) -> bool:
    """The common case, one kernel per pass on the GPU: (N, C) logits with C >= 1, class
    indices, no label smoothing. Every other case takes the general path below."""
    return (logits.ndim == 2 and logits.shape[1] > 0 and target.dtype.kind != "f"
            and label_smoothing == 0)


def _cross_entropy_rows_forward(logits, target, weight, ignore_index: int, reduction: str):
    """The general path's numbers for the common case, computed row by row by the backend
    (``cross_entropy_rows``): loss_i = -w[t_i] log_softmax(x_i)[t_i]; 'mean' divides the sum by
    the summed w[t_i] of the counted rows."""
    logits = array_module(logits).ascontiguousarray(logits)
    loss, row_weight, top, log_sum = kernels(logits).cross_entropy_rows(
        logits, target, weight, ignore_index
    )
    divisor = row_weight.sum()
    cache = CrossEntropyRowsCache(
        logits, target, row_weight, top, log_sum, ignore_index, divisor, reduction
    )
    return reduce_loss(loss, reduction, divisor), cache


def cross_entropy_forward(
    logits, target, weight, ignore_index: int, reduction: str, label_smoothing: float
):
    """Cross-entropy on logits: log_probs = log_softmax(logits) over the class dim, then

    - class-index targets: (1 - eps) NLL(log_probs, t) + (eps / C) smooth, with
      smooth_i = -sum_c w[c] log_probs[i, c] (the loss against a uniform target) and eps =
      ``label_smoothing``; both terms share NLL's reduction and divisor; ignored samples give 0.
    - class-probability targets (float, the logits' shape): loss_i = -sum_c w[c] q[i, c]
      log_probs[i, c] with q = t (1 - eps) + eps / C; 'mean' divides by the number of samples.
    """
    if _by_rows(logits, target, label_smoothing):
        return _cross_entropy_rows_forward(logits, target, weight, ignore_index, reduction)
    dim = class_dim(logits.shape)
    log_probs, softmax_cache = log_softmax_forward(logits, dim)
    scores = _as_ncm(log_probs)
    n, num_classes, m = scores.shape
    weight3 = 1 if weight is None else weight.reshape(1, num_classes, 1)
    smoothing = label_smoothing / num_classes
    if target.dtype.kind == "f":  # class probabilities
        q = target.reshape(scores.shape)
        if label_smoothing > 0:
            q = q * (1 - label_smoothing) + smoothing
        loss, soft_cache = _soft_nll_forward(scores, q * weight3, None, reduction, n * m)
        sample_shape = target.shape[:dim] + target.shape[dim + 1 :]
        out = loss.reshape(sample_shape) if reduction == "none" else loss
        return out, (softmax_cache, None, soft_cache, label_smoothing)
    out, nll_cache = nll_loss_forward(log_probs, target, weight, ignore_index, reduction)
    soft_cache = None
    if label_smoothing > 0:
        smooth, soft_cache = _soft_nll_forward(
            scores, weight3, nll_cache.counted, reduction, nll_cache.divisor
        )
        smooth = smooth.reshape(target.shape) if reduction == "none" else smooth
        out = (1 - label_smoothing) * out + smoothing * smooth
    return out, (softmax_cache, nll_cache, soft_cache, label_smoothing)


def cross_entropy_backward(grad_out, cache):
    """The chain rule through both steps. First g = d loss / d log_probs:
    - class indices: (1 - eps) times NLL's one-hot gradient -w[t_i] at c = t_i, plus, with
      smoothing, (eps / C) times -w[c] for every class (0 for ignored samples);
    - class probabilities: g[i, c] = -w[c] q[i, c], eps already folded into q;
    each times the reduction's factor. Then log_softmax's backward:
    d loss / d logits = g - softmax(logits) * sum_c g."""
    if isinstance(cache, CrossEntropyRowsCache):
        scale = reduce_loss_backward(grad_out, cache.reduction, cache.divisor)
        return kernels(cache.logits).cross_entropy_rows_backward(
            scale, cache.logits, cache.target, cache.row_weight, cache.top, cache.log_sum,
            cache.ignore_index,
        )
    softmax_cache, nll_cache, soft_cache, label_smoothing = cache
    shape = softmax_cache[0].shape
    if nll_cache is None:  # class probabilities: the soft term alone
        grad_log_probs = _soft_nll_backward(grad_out, soft_cache).reshape(shape)
    else:
        grad_log_probs = nll_loss_backward(grad_out * (1 - label_smoothing), nll_cache)
        if soft_cache is not None:
            smoothing = label_smoothing / shape[class_dim(shape)]
            smooth_grad = _soft_nll_backward(grad_out * smoothing, soft_cache)
            grad_log_probs = grad_log_probs + smooth_grad.reshape(shape)
    return log_softmax_backward(grad_log_probs, softmax_cache)


def focal_loss_forward(logits, target, gamma: float, alpha, reduction: str):
    """Focal loss on logits: loss_i = -alpha_t (1 - p_t)^gamma log p_t, where p_t is the softmax
    probability of sample i's target class and alpha_t is ``alpha`` (a float), alpha[t_i]
    (``alpha`` an array of one weight per class) or 1 (None). The factor (1 - p_t)^gamma fades
    out the samples the model already classifies well. gamma = 0 and alpha = None give
    cross-entropy. 'mean' divides by the number of samples. (1 - p_t) is computed as
    -expm1(log p_t), exact near p_t = 1.
    """
    xp = array_module(logits)
    log_probs, softmax_cache = log_softmax_forward(logits, class_dim(logits.shape))
    scores = _as_ncm(log_probs)
    targets = target.reshape(scores.shape[0], scores.shape[2])
    log_p_t = _pick(scores, targets)
    one_minus_p_t = -xp.expm1(log_p_t)
    modulation = one_minus_p_t**gamma
    alpha_t = 1.0 if alpha is None else alpha if isinstance(alpha, float) else alpha[targets]
    loss = -alpha_t * modulation * log_p_t
    out = reduce_loss(loss.reshape(target.shape), reduction, loss.size)
    cache = (softmax_cache, targets, log_p_t, one_minus_p_t, modulation, alpha_t, gamma, reduction)
    return out, cache


def focal_loss_backward(grad_out, cache):
    """With l = log p_t and f(l) = -alpha_t (1 - e^l)^gamma l:
    df/dl = -alpha_t (1 - p_t)^gamma (1 - gamma p_t l / (1 - p_t)),
    where l / (1 - p_t) -> -1 as p_t -> 1 and p_t l -> 0 as p_t -> 0. That is the gradient
    at the target class of log_probs (0 at the others), which log_softmax's backward turns into
    d loss / d logits."""
    softmax_cache, targets, log_p_t, one_minus_p_t, modulation, alpha_t, gamma, reduction = cache
    xp = array_module(log_p_t)
    shape = softmax_cache[0].shape
    (n, m), num_classes = targets.shape, shape[class_dim(shape)]
    certain = one_minus_p_t <= 0
    ratio = xp.where(certain, -1, log_p_t / xp.where(certain, 1, one_minus_p_t))
    with np.errstate(invalid="ignore"):  # p_t l / (1 - p_t) -> 0 as l -> -inf, not 0 * inf
        p_log_p_ratio = xp.where(xp.isneginf(log_p_t), 0, xp.exp(log_p_t) * ratio)
    grad_log_p_t = -alpha_t * modulation * (1 - gamma * p_log_p_ratio)
    scale = _per_sample(reduce_loss_backward(grad_out, reduction, log_p_t.size), n, m)
    grad_log_probs = _scatter(grad_log_p_t * scale, targets, num_classes).reshape(shape)
    return log_softmax_backward(grad_log_probs, softmax_cache)
