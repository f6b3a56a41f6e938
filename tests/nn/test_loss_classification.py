"""NLLLoss and CrossEntropyLoss against torch: every option, class-index targets (N,), spatial
(N, d1, ...) and unbatched, class-probability targets, and ignored targets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch_reference import DTYPES, compare_loss_with_torch

import minicnn as mc
from minicnn import nn

REDUCTIONS = st.sampled_from(["mean", "sum", "none"])


@st.composite
def class_problems(draw, min_classes: int = 1, max_classes: int = 5):
    """(scores shape, number of classes): unbatched (C,), (N, C) or (N, C, d1[, d2])."""
    num_classes = draw(st.integers(min_classes, max_classes), label="C")
    kind = draw(st.sampled_from(["unbatched", "batched", "spatial"]), label="layout")
    if kind == "unbatched":
        return (num_classes,), num_classes
    batch = draw(st.integers(0, 4), label="N")
    spatial = kind == "spatial"
    extra = draw(st.lists(st.integers(1, 3), min_size=int(spatial), max_size=2 * int(spatial)))
    return (batch, num_classes, *extra), num_classes


def class_targets(data, shape, num_classes, ignore_index, rng):
    """int64 class indices for scores of ``shape``, about a fifth of them ignore_index."""
    target_shape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    target = np.asarray(rng.integers(0, num_classes, target_shape))
    if data.draw(st.booleans(), label="some ignored"):
        target[rng.random(target_shape) < 0.2] = ignore_index
    return target


def draw_options(data, num_classes, dtype, rng):
    """(weight or None, ignore_index): ignore_index the default, -1, or a real class."""
    weight = None
    if data.draw(st.booleans(), label="weight?"):
        weight = rng.uniform(0.1, 3.0, num_classes).astype(dtype)
    ignore_index = data.draw(st.sampled_from([-100, -1, 0, num_classes - 1]), label="ignore")
    return weight, ignore_index


def as_torch(array):
    return None if array is None else torch.from_numpy(array)


@given(problem=class_problems(), reduction=REDUCTIONS, data=st.data())
@DTYPES
def test_nll_matches_torch(problem, reduction, data, dtype):
    shape, num_classes = problem
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    weight, ignore_index = draw_options(data, num_classes, dtype, rng)
    x = np.asarray(rng.standard_normal(shape), dtype)
    target = class_targets(data, shape, num_classes, ignore_index, rng)
    compare_loss_with_torch(
        nn.NLLLoss(weight, ignore_index, reduction),
        torch.nn.NLLLoss(as_torch(weight), ignore_index=ignore_index, reduction=reduction),
        x, target,
    )


@given(problem=class_problems(), reduction=REDUCTIONS, data=st.data())
@DTYPES
def test_cross_entropy_with_class_indices_matches_torch(problem, reduction, data, dtype):
    shape, num_classes = problem
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    weight, ignore_index = draw_options(data, num_classes, dtype, rng)
    smoothing = data.draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]), label="label_smoothing")
    scale = data.draw(st.sampled_from([1.0, 10.0, 1e4]), label="logit scale")
    x = np.asarray(scale * rng.standard_normal(shape), dtype)
    target = class_targets(data, shape, num_classes, ignore_index, rng)
    compare_loss_with_torch(
        nn.CrossEntropyLoss(weight, ignore_index, reduction, smoothing),
        torch.nn.CrossEntropyLoss(as_torch(weight), ignore_index=ignore_index,
                                  reduction=reduction, label_smoothing=smoothing),
        x, target,
    )


@given(problem=class_problems(), reduction=REDUCTIONS, data=st.data())
@DTYPES
def test_cross_entropy_with_class_probabilities_matches_torch(problem, reduction, data, dtype):
    shape, num_classes = problem
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    weight, _ = draw_options(data, num_classes, dtype, rng)
    smoothing = data.draw(st.sampled_from([0.0, 0.2, 1.0]), label="label_smoothing")
    x = np.asarray(3 * rng.standard_normal(shape), dtype)
    class_dim = 0 if len(shape) == 1 else 1
    if data.draw(st.booleans(), label="one-hot"):
        target = np.moveaxis(np.eye(num_classes)[rng.integers(0, num_classes, np.delete(shape,
                             class_dim))], -1, class_dim)
    else:
        raw = rng.random(shape)
        target = raw / np.maximum(raw.sum(axis=class_dim, keepdims=True), 1e-12)
    compare_loss_with_torch(
        nn.CrossEntropyLoss(weight, reduction=reduction, label_smoothing=smoothing),
        torch.nn.CrossEntropyLoss(as_torch(weight), reduction=reduction,
                                  label_smoothing=smoothing),
        x, np.asarray(target, dtype),
    )


@pytest.mark.parametrize("target_dtype", [np.int8, np.uint8, np.int32, np.int64])
def test_integer_targets_of_any_width_are_class_indices(target_dtype):
    x = np.random.default_rng(0).standard_normal((4, 3))
    target = np.array([0, 2, 1, 2], dtype=target_dtype)
    compare_loss_with_torch(nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss(), x, target)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@DTYPES
def test_cross_entropy_stays_finite_at_logits_of_1e4(reduction, dtype):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], dtype=dtype)
    target = np.array([1, 0])  # both confidently wrong: the loss is ~2e4 and finite
    out, grad = compare_loss_with_torch(
        nn.CrossEntropyLoss(reduction=reduction, label_smoothing=0.1),
        torch.nn.CrossEntropyLoss(reduction=reduction, label_smoothing=0.1), x, target,
    )
    assert np.isfinite(out).all() and np.isfinite(grad).all()


def test_all_targets_ignored_gives_nan_mean_and_zero_gradient_as_torch():
    x = np.random.default_rng(1).standard_normal((3, 4))
    target = np.full(3, -100)
    for smoothing in (0.0, 0.3):
        out, grad = compare_loss_with_torch(
            nn.CrossEntropyLoss(label_smoothing=smoothing),
            torch.nn.CrossEntropyLoss(label_smoothing=smoothing), x, target,
        )
        assert np.isnan(out) and not grad.any()


def test_cross_entropy_is_log_softmax_then_nll():
    rng = np.random.default_rng(2)
    x, target = rng.standard_normal((5, 4, 2)), rng.integers(0, 4, (5, 2))
    weight = rng.uniform(0.5, 2, 4)
    cross_entropy, nll, log_softmax = nn.CrossEntropyLoss(weight), nn.NLLLoss(weight), \
        nn.LogSoftmax(dim=1)
    np.testing.assert_allclose(cross_entropy(x, target), nll(log_softmax(x), target), rtol=1e-14)
    np.testing.assert_allclose(
        cross_entropy.backward(), log_softmax.backward(nll.backward()), rtol=1e-13, atol=1e-16
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("probabilities", [False, True])
def test_class_losses_pass_gradcheck(reduction, probabilities):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 4, 2))
    weight = rng.uniform(0.5, 2, 4)
    if probabilities:
        target = rng.dirichlet(np.ones(4), (3, 2)).transpose(0, 2, 1)
        losses = [nn.CrossEntropyLoss(weight, reduction=reduction, label_smoothing=0.2)]
    else:
        target = np.array([[0, 3], [-100, 1], [2, 2]])
        losses = [nn.NLLLoss(weight, reduction=reduction),
                  nn.CrossEntropyLoss(weight, reduction=reduction, label_smoothing=0.2)]
    for loss in losses:
        pair = (lambda x, loss=loss: (loss(x, target), None),
                lambda grad, _, loss=loss: loss.backward(grad))
        assert mc.gradcheck(pair, x), loss
