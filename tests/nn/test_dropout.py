"""Dropout: torch's RNG can't be matched, so its properties are checked instead."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import minicnn as mc
from minicnn import nn


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_training_mask_is_bernoulli_and_scaled(p, dtype):
    mc.manual_seed(0)
    x = np.ones(200_000, dtype)
    out = nn.Dropout(p)(x)
    assert out.dtype == dtype
    kept = out != 0
    # 6 standard deviations of the binomial fraction
    assert abs(kept.mean() - (1 - p)) < 6 * np.sqrt(p * (1 - p) / x.size)
    np.testing.assert_allclose(out[kept], np.asarray(1 / (1 - p), dtype), rtol=0)


def test_backward_uses_the_forward_mask():
    layer = nn.Dropout(0.3)
    x = np.random.default_rng(0).standard_normal((20, 30))
    out = layer(x)
    grad = np.random.default_rng(1).standard_normal(x.shape)
    expected = np.where(out == 0, 0, grad / 0.7)
    np.testing.assert_allclose(layer.backward(grad), expected, rtol=1e-15, atol=0)


def test_eval_mode_is_the_identity():
    layer = nn.Dropout(0.5).eval()
    x = np.random.default_rng(0).standard_normal((4, 5))
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), np.ones_like(x))


def test_manual_seed_reproduces_masks():
    x = np.ones((50, 50), np.float32)
    mc.manual_seed(3)
    first = nn.Dropout()(x)
    mc.manual_seed(3)
    np.testing.assert_array_equal(nn.Dropout()(x), first)


def test_edge_probabilities_match_torch():
    x = np.random.default_rng(0).standard_normal((3, 4))
    np.testing.assert_array_equal(nn.Dropout(0.0)(x), x)
    zeros = nn.Dropout(1.0)(x)
    np.testing.assert_array_equal(zeros, torch.nn.Dropout(1.0)(torch.from_numpy(x)).numpy())
    assert not zeros.any()


def test_inplace_writes_into_the_input():
    mc.manual_seed(0)
    x = np.ones((10, 10))
    out = nn.Dropout(0.5, inplace=True)(x)
    assert np.shares_memory(out, x) and (x == 0).any()


def test_gradcheck_replays_the_mask():
    assert mc.gradcheck(nn.Dropout(0.4), np.random.default_rng(0).standard_normal((4, 5)))


def test_bad_p_and_repr():
    assert repr(nn.Dropout(0.2)) == repr(torch.nn.Dropout(0.2))
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="got -0.1"):
        nn.Dropout(-0.1)
    with pytest.raises(TypeError, match="p must be a float"):
        nn.Dropout("0.5")
