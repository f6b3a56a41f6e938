"""Metrics the Trainer reports: accuracy and top-k accuracy, named as in the logs.

A metric is given by name: 'accuracy' (or 'acc'), 'top_k_accuracy' (k = 5, Keras's default) or
'top_<k>_accuracy' (e.g. 'top_3_accuracy'). Each returns the number of correct samples in a
batch, so that the Trainer can average exactly over an epoch.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from minicnn.backend import array_module

TOP_K = re.compile(r"top_(\d+|k)_accuracy")


def _class_targets(scores, target):
    """Class indices for ``target``: as given, or the argmax of class probabilities/one-hot."""
    if target.dtype.kind == "f" and target.shape == scores.shape:
        return target.argmax(axis=1 if scores.ndim > 1 else 0)
    return target


def correct_predictions(scores, target, binary_threshold: float) -> int:
    """Samples whose highest score is their class. Outputs of the target's shape (one score
    per sample, as for BCE) count as binary: right when (score > threshold) == (target > 0.5)."""
    if scores.shape == target.shape and target.dtype.kind == "f" and (
        scores.ndim <= 1 or scores.shape[1] == 1
    ):
        return int(((scores > binary_threshold) == (target > 0.5)).sum())
    predicted = scores.argmax(axis=1 if scores.ndim > 1 else 0)
    return int((predicted == _class_targets(scores, target)).sum())


def correct_in_top_k(scores, target, k: int) -> int:
    """Samples whose class is among their k highest scores (N, C, ...) scores."""
    xp = array_module(scores)
    target = _class_targets(scores, target)
    axis = 1 if scores.ndim > 1 else 0
    own = xp.take_along_axis(scores, xp.expand_dims(target, axis), axis=axis)
    # a class is in the top k when fewer than k classes score strictly higher
    return int(((scores > own).sum(axis=axis) < k).sum())


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


def metric_function(name: str, binary_threshold: float = 0.5) -> Callable:
    """The function computing the correct count of ``name`` (a canonical name) from
    (scores, target)."""
    if name == "accuracy":
        return lambda scores, target: correct_predictions(scores, target, binary_threshold)
    k = int(TOP_K.fullmatch(name).group(1))
    return lambda scores, target: correct_in_top_k(scores, target, k)


def samples_in(target) -> int:
    """How many predictions a batch holds: one per target entry of class indices (pixels
    included), one per row of class probabilities."""
    return int(np.prod(target.shape[:1] + target.shape[2:])) if target.dtype.kind == "f" and (
        target.ndim > 1
    ) else int(target.size)
