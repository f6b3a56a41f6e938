"""The losses' contract around the numbers: clear errors for bad arguments and inputs, the
deprecated size_average / reduce flags, backward's grad_output, and dtypes kept."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_reference import DTYPES, compare_loss_with_torch

from minicnn import nn

LOGITS = np.zeros((4, 3), dtype=np.float32)
LABELS = np.array([0, 1, 2, 1])


@pytest.mark.parametrize(
    "make, input, target, error, message",
    [
        # class index out of range, and not ignore_index
        (lambda: nn.CrossEntropyLoss(), LOGITS, np.array([0, 1, 3, 1]), IndexError,
         r"CrossEntropyLoss\(\): target 3 is out of bounds.*\[0, 2\] or ignore_index=-100"),
        (lambda: nn.NLLLoss(ignore_index=5), LOGITS, np.array([0, -1, 5, 1]), IndexError,
         r"target -1 is out of bounds"),
        (lambda: nn.FocalLoss(), LOGITS, np.array([0, 1, -100, 1]), IndexError,
         r"FocalLoss\(gamma=2.0, alpha=None\): target -100 is out of bounds.*\[0, 2\]$"),
        (lambda: nn.CrossEntropyLoss(), LOGITS, np.array([2**64 - 100, 1, 0, 0], np.uint64),
         IndexError, r"target 18446744073709551516 is out of bounds"),
        (lambda: nn.CrossEntropyLoss(ignore_index=0), LOGITS, np.full((4, 3), 1 / 3, np.float32),
         ValueError, r"ignore_index=0 is not supported for class-probability \(float\) targets"),
        # target shapes
        (lambda: nn.CrossEntropyLoss(), LOGITS, np.array([0, 1, 2]), ValueError,
         r"expected target of shape \(4,\).*input of shape \(4, 3\), got \(3,\)"),
        (lambda: nn.NLLLoss(), np.zeros((2, 3, 5), np.float32), np.zeros((2, 4), np.int64),
         ValueError, r"expected target of shape \(2, 5\)"),
        (lambda: nn.CrossEntropyLoss(), LOGITS, np.zeros((4, 2), np.float32), ValueError,
         r"class-probability targets must have the input's shape \(4, 3\), got \(4, 2\)"),
        (lambda: nn.MSELoss(), LOGITS, np.zeros((4, 1), np.float32), ValueError,
         r"MSELoss\(\): target must have the input's shape \(4, 3\), got \(4, 1\)"),
        (lambda: nn.BCEWithLogitsLoss(), LOGITS, np.zeros(3, np.float32), ValueError,
         r"target must have the input's shape"),
        (lambda: nn.CrossEntropyLoss(), np.zeros((4, 0), np.float32), np.zeros(4, np.int64),
         ValueError, r"with C >= 1 classes, got shape \(4, 0\)"),
        (lambda: nn.NLLLoss(), np.zeros((), np.float32), np.zeros((), np.int64), ValueError,
         r"expected scores of shape \(N, C\)"),
        # target dtypes
        (lambda: nn.NLLLoss(), LOGITS, LABELS.astype(np.float32), TypeError,
         r"NLLLoss\(\): target must hold integer class indices, got dtype float32"),
        (lambda: nn.CrossEntropyLoss(), LOGITS, LABELS.astype(bool), TypeError,
         r"integer class indices or class probabilities"),
        (lambda: nn.MSELoss(), LOGITS, [[0.0] * 3] * 4, TypeError, r"target must be an array"),
        (lambda: nn.NLLLoss(), LOGITS, [0, 1, 2, 1], TypeError,
         r"target must be an array, got list"),
        (lambda: nn.MSELoss(), LOGITS, LOGITS.astype(str), TypeError,
         r"target must hold numbers, got dtype <U"),
        # BCE input outside [0, 1]
        (lambda: nn.BCELoss(), np.array([0.5, 1.5], np.float32), np.ones(2, np.float32),
         ValueError, r"between 0 and 1.*got values in \[0.5, 1.5\]; for logits use "
         r"BCEWithLogitsLoss"),
        (lambda: nn.BCELoss(), np.array([0.5, np.nan], np.float32), np.ones(2, np.float32),
         ValueError, r"between 0 and 1.*got NaN"),
        # weights of the wrong length or shape
        (lambda: nn.CrossEntropyLoss(weight=np.ones(4)), LOGITS, LABELS, ValueError,
         r"weight must have one entry per class, shape \(3,\).*got shape \(4,\)"),
        (lambda: nn.FocalLoss(alpha=[1.0, 2.0]), LOGITS, LABELS, ValueError,
         r"alpha must have one entry per class, shape \(3,\)"),
        (lambda: nn.BCELoss(weight=np.ones(4)), LOGITS, np.zeros((4, 3), np.float32),
         ValueError, r"weight of shape \(4,\) does not broadcast to the input's shape \(4, 3\)"),
        (lambda: nn.BCEWithLogitsLoss(pos_weight=np.ones((2, 4, 3))), LOGITS,
         np.zeros((4, 3), np.float32), ValueError, r"pos_weight of shape \(2, 4, 3\)"),
        # inputs
        (lambda: nn.MSELoss(), LOGITS.astype(np.int64), LOGITS, TypeError,
         r"float32 or float64 input, got dtype int64"),
        (lambda: nn.CrossEntropyLoss(), LOGITS.tolist(), LABELS, TypeError,
         r"expected a numpy or cupy array, got list"),
    ],
)
def test_bad_input_gets_a_clear_error(make, input, target, error, message):
    with pytest.raises(error, match=message):
        make()(input, target)


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: nn.CrossEntropyLoss(label_smoothing=1.5), ValueError,
         r"label_smoothing must be between 0.0 and 1.0, got 1.5"),
        (lambda: nn.CrossEntropyLoss(label_smoothing=-0.1), ValueError, r"got -0.1"),
        (lambda: nn.CrossEntropyLoss(label_smoothing="0.1"), TypeError, r"must be a float"),
        (lambda: nn.MSELoss("average"), ValueError,
         r"MSELoss: reduction must be one of \('mean', 'sum', 'none'\), got 'average'"),
        (lambda: nn.NLLLoss(weight=np.ones((2, 3))), ValueError, r"1-D array.*\(2, 3\)"),
        (lambda: nn.NLLLoss(weight=["a", "b"]), TypeError, r"weight must be an array of numbers"),
        (lambda: nn.NLLLoss(ignore_index=1.5), TypeError, r"ignore_index must be an int"),
        (lambda: nn.FocalLoss(gamma=-1), ValueError, r"gamma must be finite and >= 0, got -1"),
        (lambda: nn.FocalLoss(gamma="2"), TypeError, r"gamma must be a float, got '2'"),
        (lambda: nn.FocalLoss(gamma=float("inf")), ValueError, r"gamma must be finite and >= 0"),
        (lambda: nn.FocalLoss(alpha=True), TypeError, r"alpha must be None, a float or one"),
        (lambda: nn.CrossEntropyLoss(weight=[[1], [1, 2]]), TypeError,
         r"weight must be an array of numbers"),
        (lambda: nn.FocalLoss(gamma=float("nan")), ValueError, r"gamma must be finite and >= 0"),
        (lambda: nn.FocalLoss(alpha=np.ones((3, 1))), ValueError, r"alpha must be a 1-D array"),
    ],
)
def test_bad_arguments_fail_at_construction(make, error, message):
    with pytest.raises(error, match=message):
        make()


LEGACY_FLAGS = [(s, r) for s in (None, True, False) for r in (None, True, False) if (s, r) != (
    None, None)]


@pytest.mark.parametrize("size_average, reduce", LEGACY_FLAGS)
@pytest.mark.parametrize("name", ["MSELoss", "BCEWithLogitsLoss", "NLLLoss", "CrossEntropyLoss"])
def test_deprecated_size_average_and_reduce_mean_what_they_mean_in_torch(
    name, size_average, reduce
):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3))
    target = rng.integers(0, 3, 4) if name in ("NLLLoss", "CrossEntropyLoss") else rng.random(
        (4, 3)
    )
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        ours = getattr(nn, name)(size_average=size_average, reduce=reduce)
    with pytest.warns(UserWarning):
        theirs = getattr(torch.nn, name)(size_average=size_average, reduce=reduce)
    assert ours.reduction == theirs.reduction
    compare_loss_with_torch(ours, theirs, x, target)


def test_backward_takes_a_scalar_for_a_scalar_loss_and_the_loss_shape_for_none():
    loss = nn.CrossEntropyLoss()
    with pytest.raises(RuntimeError, match=r"CrossEntropyLoss\(\): backward\(\) called before"):
        loss.backward()
    loss(LOGITS, LABELS)
    for grad_output in (1.0, 2, np.float64(0.5), np.array(3.0, np.float32)):
        assert loss.backward(grad_output).dtype == np.float32
    with pytest.raises(TypeError, match=r"grad_output must be a number"):
        loss.backward(np.array("a"))
    np.testing.assert_allclose(loss.backward(2.0), 2 * loss.backward(), rtol=1e-6)

    per_sample = nn.CrossEntropyLoss(reduction="none")
    per_sample(LOGITS, LABELS)
    with pytest.raises(ValueError, match=r"the loss has shape \(4,\); backward needs"):
        per_sample.backward()
    with pytest.raises(ValueError, match=r"grad_output must have the output's shape \(4,\)"):
        per_sample.backward(np.ones(3, np.float32))
    with pytest.raises(TypeError, match=r"output's dtype float32, got float64"):
        per_sample.backward(np.ones(4))
    assert per_sample.backward(np.ones(4, np.float32)).shape == (4, 3)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@DTYPES
def test_every_loss_keeps_the_input_dtype(dtype, reduction):
    """float32 stays float32 even with float64 or integer targets and float64 weights."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3)).astype(dtype)
    probabilities = rng.random((4, 3))  # float64
    cases = [
        (nn.MSELoss(), x, probabilities),
        (nn.BCELoss(weight=np.ones(3)), 1 / (1 + np.exp(-x)), rng.integers(0, 2, (4, 3))),
        (nn.BCEWithLogitsLoss(np.ones(3), pos_weight=[1.0, 2.0, 3.0]), x, probabilities),
        (nn.NLLLoss(np.ones(3)), x, LABELS),
        (nn.CrossEntropyLoss([1, 2, 3], label_smoothing=0.1), x, LABELS.astype(np.int32)),
        (nn.CrossEntropyLoss(np.ones(3)), x, probabilities),
        (nn.FocalLoss(alpha=np.ones(3)), x, LABELS),
    ]
    for loss, input, target in cases:
        loss.reduction = reduction
        out = loss(input, target)
        assert isinstance(out, np.ndarray) and out.dtype == dtype, loss
        grad = loss.backward(np.ones_like(out) if reduction == "none" else 1.0)
        assert grad.dtype == dtype and grad.shape == input.shape, loss


def test_losses_are_modules_with_torchs_repr():
    for name in ("MSELoss", "BCELoss", "BCEWithLogitsLoss", "NLLLoss", "CrossEntropyLoss"):
        ours, theirs = getattr(nn, name)(), getattr(torch.nn, name)()
        assert isinstance(ours, nn.Module) and repr(ours) == repr(theirs)
        assert list(ours.parameters()) == []
    assert repr(nn.FocalLoss(1.0, [1, 2])) == "FocalLoss(gamma=1.0, alpha=per class)"


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("reduction", ["mean", "none"])
@DTYPES
def test_minus_inf_masks_and_nans_give_what_torch_gives(smoothing, reduction, dtype):
    """-inf logits mask classes out (finite loss unless smoothing spreads mass onto them);
    a NaN anywhere in a sample's logits makes that sample's loss NaN."""
    x = np.array([[-INF, 0.5, 1.0], [2.0, -INF, -INF], [0.3, NAN, 0.1], [1.0, 2.0, 3.0]], dtype)
    target = np.array([1, 0, 2, -100])
    compare_loss_with_torch(
        nn.CrossEntropyLoss(reduction=reduction, label_smoothing=smoothing),
        torch.nn.CrossEntropyLoss(reduction=reduction, label_smoothing=smoothing), x, target,
    )
    compare_loss_with_torch(
        nn.MSELoss(reduction), torch.nn.MSELoss(reduction=reduction), x[2:], np.ones((2, 3), dtype)
    )
    compare_loss_with_torch(
        nn.BCEWithLogitsLoss(reduction=reduction),
        torch.nn.BCEWithLogitsLoss(reduction=reduction), np.nan_to_num(x[:2], neginf=-1e30),
        np.full((2, 3), 0.5, dtype),
    )
