"""nn.class_weights: inverse class frequency normalised to mean 1, for balanced cross-entropy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minicnn import nn


@given(counts=st.lists(st.integers(1, 50), min_size=1, max_size=12), seed=st.integers(0, 99))
def test_weights_are_inverse_frequencies_with_mean_one(counts, seed):
    targets = np.random.default_rng(seed).permutation(np.repeat(np.arange(len(counts)), counts))
    weights = nn.class_weights(targets, len(counts))
    assert weights.dtype == np.float32 and weights.shape == (len(counts),)
    np.testing.assert_allclose(weights.mean(), 1.0, rtol=1e-6)
    # w[c] * n_c is the same for every class: each class contributes equally in total
    np.testing.assert_allclose(weights * np.array(counts), (weights * counts)[0], rtol=1e-6)


def test_balanced_weights_give_every_class_the_same_total_weight_in_cross_entropy():
    targets = np.array([0] * 90 + [1] * 9 + [2] * 1)
    weights = nn.class_weights(targets, 3, dtype=np.float64)
    np.testing.assert_allclose(weights, np.array([1 / 90, 1 / 9, 1.0]) / np.mean(
        [1 / 90, 1 / 9, 1.0]))
    loss = nn.CrossEntropyLoss(weight=weights, reduction="none")
    per_sample = loss(np.zeros((100, 3)), targets)  # each sample costs w[t] log 3
    totals = [per_sample[targets == c].sum() for c in range(3)]
    np.testing.assert_allclose(totals, totals[0], rtol=1e-12)


def test_spatial_and_narrow_integer_targets_count_every_entry():
    targets = np.array([[0, 1], [1, 1]], dtype=np.uint8)
    np.testing.assert_allclose(nn.class_weights(targets, 2), [1.5, 0.5])
    np.testing.assert_allclose(nn.class_weights([0, 1, 1, 1], 2), [1.5, 0.5])  # a plain list


@pytest.mark.parametrize(
    "targets, num_classes, error, message",
    [
        (np.array([0, 0, 2]), 3, ValueError, r"classes \[1\] do not occur in targets"),
        (np.array([0, 3]), 3, IndexError, r"target 3 is out of bounds.*\[0, 2\]"),
        (np.array([-1, 0]), 3, IndexError, r"target -1 is out of bounds"),
        (np.array([0.0, 1.0]), 2, TypeError, r"integer class indices, got dtype float64"),
        (np.array([0, 1]), 0, ValueError, r"num_classes must be positive, got 0"),
        (np.array([2**64 - 1, 0], np.uint64), 2, IndexError, r"target 18446744073709551615"),
        ([[0], [1, 1]], 2, TypeError, r"integer class indices, got dtype object"),
        ([], 2, ValueError, r"classes \[0, 1\] do not occur in targets"),
    ],
)
def test_bad_targets_get_a_clear_error(targets, num_classes, error, message):
    with pytest.raises(error, match=message):
        nn.class_weights(targets, num_classes)


def test_the_dtype_must_be_a_float_dtype():
    assert nn.class_weights([0, 1], 2, dtype=np.float64).dtype == np.float64
    with pytest.raises(TypeError, match=r"class_weights: dtype must be float32 or float64"):
        nn.class_weights([0, 1], 2, dtype=np.int64)
