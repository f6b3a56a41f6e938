"""Accuracy and top-k accuracy against direct counts, for indices, probabilities, binary
outputs and per-pixel scores."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from minicnn.training.metrics import canonical_name, metric_function


@given(n=st.integers(1, 20), c=st.integers(2, 8), k=st.integers(1, 8), seed=st.integers(0, 99))
def test_top_k_counts_match_torch_topk(n, c, k, seed):
    rng = np.random.default_rng(seed)
    scores, target = rng.standard_normal((n, c)), rng.integers(0, c, n)
    k = min(k, c)
    top = torch.from_numpy(scores).topk(k, dim=1).indices.numpy()
    expected = sum(target[i] in top[i] for i in range(n))
    assert metric_function(f"top_{k}_accuracy")(scores, target) == (expected, n)
    right = (scores.argmax(1) == target).sum()
    assert metric_function("accuracy")(scores, target) == (right, n)
    assert metric_function("accuracy")(scores, np.eye(c)[target]) == (right, n)


def test_per_pixel_and_binary_accuracy():
    scores = np.zeros((2, 3, 2, 2))
    scores[:, 1] = 1.0  # class 1 everywhere
    target = np.array([[[1, 1], [0, 2]], [[1, 1], [1, 1]]])
    assert metric_function("accuracy")(scores, target) == (6, 8)
    logits, labels = np.array([2.0, -1.0, 0.5]), np.array([1.0, 1.0, 0.0])
    assert metric_function("accuracy", binary_threshold=0.0)(logits, labels) == (1, 3)
    multi_label = np.array([[0.9, 0.2], [0.6, 0.7]])  # every entry is a prediction
    assert metric_function("accuracy", 0.5)(multi_label, np.array([[1.0, 0.0], [0.0, 0.0]])) == (
        2, 4)


def test_ignored_targets_are_not_counted():
    scores = np.array([[2.0, 1, 0], [0, 2, 1], [1, 0, 2], [0, 0, 5]])
    target = np.array([0, 1, 2, -100])
    assert metric_function("accuracy", ignore_index=-100)(scores, target) == (3, 3)
    assert metric_function("top_2_accuracy", ignore_index=-100)(scores, target) == (3, 3)


@pytest.mark.parametrize("name, canonical", [("acc", "accuracy"), ("accuracy", "accuracy"),
                                             ("top_k_accuracy", "top_5_accuracy"),
                                             ("top_3_accuracy", "top_3_accuracy")])
def test_metric_names_as_logged(name, canonical):
    assert canonical_name(name) == canonical


def test_top_0_is_refused():
    with pytest.raises(ValueError, match=r"top-k accuracy needs k >= 1"):
        canonical_name("top_0_accuracy")
