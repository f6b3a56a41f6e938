"""MSELoss, BCELoss and BCEWithLogitsLoss against torch, over random shapes and every option."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes
from torch_reference import DTYPES, compare_loss_with_torch

import minicnn as mc
from minicnn import nn

REDUCTIONS = st.sampled_from(["mean", "sum", "none"])
SHAPES = array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)


def broadcastable_shape(data, shape, label):
    """A shape that broadcasts to ``shape``: a suffix of it, some sides replaced by 1."""
    suffix = shape[len(shape) - data.draw(st.integers(0, len(shape)), label=f"{label} dims") :]
    ones = data.draw(st.lists(st.booleans(), min_size=len(suffix), max_size=len(suffix)))
    return tuple(1 if one else side for side, one in zip(suffix, ones, strict=True))


def positive_weight(data, shape, dtype, label):
    """None or a positive weight array of a shape broadcastable to ``shape``."""
    if not data.draw(st.booleans(), label=f"{label}?"):
        return None
    seed = data.draw(st.integers(0, 2**16), label=f"{label} seed")
    weight_shape = broadcastable_shape(data, shape, label)
    return np.asarray(np.random.default_rng(seed).uniform(0.1, 3.0, weight_shape), dtype)


def as_torch(array):
    return None if array is None else torch.from_numpy(array)


@given(shape=SHAPES, reduction=REDUCTIONS, seed=st.integers(0, 2**16))
@DTYPES
def test_mse_matches_torch(shape, reduction, seed, dtype):
    rng = np.random.default_rng(seed)
    x, target = (np.asarray(rng.standard_normal(shape), dtype) for _ in range(2))
    compare_loss_with_torch(
        nn.MSELoss(reduction), torch.nn.MSELoss(reduction=reduction), x, target, seed=seed
    )


@given(shape=SHAPES, reduction=REDUCTIONS, data=st.data())
@DTYPES
def test_bce_matches_torch(shape, reduction, data, dtype):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    x = np.asarray(rng.uniform(0, 1, shape))
    if data.draw(st.booleans(), label="exact 0 and 1"):  # where the log clamp at -100 acts
        x[rng.random(shape) < 0.3] = 0.0
        x[rng.random(shape) < 0.3] = 1.0
    hard = data.draw(st.booleans(), label="hard targets")
    target = np.asarray(rng.integers(0, 2, shape) if hard else rng.uniform(0, 1, shape))
    weight = positive_weight(data, shape, dtype, "weight")
    compare_loss_with_torch(
        nn.BCELoss(weight, reduction),
        torch.nn.BCELoss(as_torch(weight), reduction=reduction),
        x.astype(dtype),
        target.astype(dtype),
    )


@given(shape=SHAPES, reduction=REDUCTIONS, data=st.data())
@DTYPES
def test_bce_with_logits_matches_torch(shape, reduction, data, dtype):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    scale = data.draw(st.sampled_from([1.0, 10.0, 1e4]), label="logit scale")
    x = np.asarray(scale * rng.standard_normal(shape), dtype)
    target = np.asarray(rng.uniform(0, 1, shape), dtype)
    weight = positive_weight(data, shape, dtype, "weight")
    pos_weight = positive_weight(data, shape, dtype, "pos_weight")
    compare_loss_with_torch(
        nn.BCEWithLogitsLoss(weight, reduction, pos_weight),
        torch.nn.BCEWithLogitsLoss(as_torch(weight), reduction=reduction,
                                   pos_weight=as_torch(pos_weight)),
        x,
        target,
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@DTYPES
def test_bce_with_logits_stays_finite_at_huge_logits(reduction, dtype):
    x = np.array([[-1e4, 1e4, 0.0], [1e4, -1e4, 30.0]], dtype=dtype)
    target = np.array([[1, 0, 1], [1, 0, 0]], dtype=dtype)
    pos_weight = np.array([2.0, 0.5, 3.0], dtype=dtype)
    loss = nn.BCEWithLogitsLoss(reduction=reduction, pos_weight=pos_weight)
    out, grad = compare_loss_with_torch(
        loss, torch.nn.BCEWithLogitsLoss(reduction=reduction, pos_weight=torch.tensor(pos_weight)),
        x, target,
    )
    assert np.isfinite(out).all() and np.isfinite(grad).all()


@DTYPES
def test_bce_clamps_each_log_at_minus_100(dtype):
    # x = 0 with target 1 and x = 1 with target 0: log 0 = -inf is clamped, loss 100 each
    loss = nn.BCELoss(reduction="none")
    out = loss(np.array([0.0, 1.0, 0.0], dtype=dtype), np.array([1.0, 0.0, 0.0], dtype=dtype))
    np.testing.assert_array_equal(out, np.array([100.0, 100.0, 0.0], dtype=dtype))
    assert np.isfinite(loss.backward(np.ones(3, dtype=dtype))).all()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_elementwise_losses_pass_gradcheck(reduction):
    rng = np.random.default_rng(3)
    shape = (3, 4)
    target = rng.uniform(0, 1, shape)
    weight, pos_weight = rng.uniform(0.5, 2, (1, 4)), rng.uniform(0.5, 2, (4,))
    cases = [
        (nn.MSELoss(reduction), rng.standard_normal(shape)),
        (nn.BCELoss(weight, reduction), rng.uniform(0.05, 0.95, shape)),
        (nn.BCEWithLogitsLoss(weight, reduction, pos_weight), 3 * rng.standard_normal(shape)),
    ]
    for loss, x in cases:
        pair = (lambda x, loss=loss: (loss(x, target), None),
                lambda grad, _, loss=loss: loss.backward(grad))
        assert mc.gradcheck(pair, x), loss
