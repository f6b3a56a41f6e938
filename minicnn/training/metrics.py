"""Metrics the Trainer reports: accuracy and top-k accuracy, named as in the logs.

A metric is given by name: 'accuracy' (or 'acc'), 'top_k_accuracy' (k = 5, Keras's default) or
'top_<k>_accuracy' (e.g. 'top_3_accuracy'). Each metric function returns (right, counted) for
a batch, so that the Trainer averages exactly over an epoch:
- class scores (N, C) or (N, C, d1, ...) with class-index targets, or class probabilities /
  one-hot targets of the scores' shape: one prediction per sample (per pixel), targets equal to
  the loss's ``ignore_index`` not counted;
- with a binary loss (BCE), every entry is a prediction: right when (score > threshold) ==
  (target > 0.5), the threshold 0 for logits and 0.5 for probabilities.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from minicnn.backend import array_module

TOP_K = re.compile(r"top_(\d+|k)_accuracy")


def canonical_name(name: str) -> str:
    """The name a metric has in the logs: 'acc' is 'accuracy', 'top_k_accuracy' is
    'top_5_accuracy'; an unknown name is a ValueError listing the known ones."""
    if name in ("accuracy", "acc"):
        return "accuracy"
    match = TOP_K.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        raise ValueError(
            f"Trainer: unknown metric {name!r}; the metrics are 'accuracy' and "
            "'top_<k>_accuracy' (e.g. 'top_5_accuracy')"
        )
    k = 5 if match.group(1) == "k" else int(match.group(1))
    if k < 1:
        raise ValueError(f"Trainer: top-k accuracy needs k >= 1, got {name!r}")
    return f"top_{k}_accuracy"


def _class_targets(scores, target, ignore_index):
    """(class indices, mask of the counted ones): the targets as given, or the argmax of
    class probabilities / one-hot; ignore_index entries masked out."""
    if target.dtype.kind == "f" and target.shape == scores.shape:
        indices = target.argmax(axis=1 if scores.ndim > 1 else 0)
        return indices, array_module(indices).ones(indices.shape, bool)
    xp = array_module(target)
    if ignore_index is None:
        return target, xp.ones(target.shape, bool)
    counted = target != ignore_index
    return xp.where(counted, target, 0), counted


def _accuracy(scores, target, ignore_index) -> tuple[int, int]:
    target, counted = _class_targets(scores, target, ignore_index)
    predicted = scores.argmax(axis=1 if scores.ndim > 1 else 0)
    return int(((predicted == target) & counted).sum()), int(counted.sum())


def _top_k(scores, target, ignore_index, k: int) -> tuple[int, int]:
    xp = array_module(scores)
    target, counted = _class_targets(scores, target, ignore_index)
    axis = 1 if scores.ndim > 1 else 0
    own = xp.take_along_axis(scores, xp.expand_dims(target, axis), axis=axis)
    # a class is in the top k when fewer than k classes score strictly higher
    in_top_k = (scores > own).sum(axis=axis) < k
    return int((in_top_k & counted).sum()), int(counted.sum())


def _binary_accuracy(scores, target, threshold: float) -> tuple[int, int]:
    return int(((scores > threshold) == (target > 0.5)).sum()), int(target.size)


def metric_function(
    name: str, binary_threshold: float | None = None, ignore_index: int | None = None
) -> Callable:
    """The function (scores, target) -> (right, counted) of ``name``, a canonical name.
    ``binary_threshold`` (a binary loss) makes accuracy element-wise."""
    if name == "accuracy":
        if binary_threshold is not None:
            return lambda scores, target: _binary_accuracy(scores, target, binary_threshold)
        return lambda scores, target: _accuracy(scores, target, ignore_index)
    k = int(TOP_K.fullmatch(name).group(1))
    return lambda scores, target: _top_k(scores, target, ignore_index, k)
