"""FocalLoss against a direct float64 evaluation of -alpha_t (1 - p_t)^gamma log p_t (with its
autograd gradient), against CrossEntropyLoss at gamma = 0, and by finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from test_loss_classification import class_problems
from torch_reference import DTYPES, LOSS_TOLERANCE, assert_close

import minicnn as mc
from minicnn import nn

REDUCTIONS = st.sampled_from(["mean", "sum", "none"])


def focal_formula(logits: torch.Tensor, target: torch.Tensor, gamma, alpha, reduction):
    """The formula itself in torch float64, term by term, on (N, C, ...) or (C,) logits."""
    unbatched = logits.dim() == 1
    if unbatched:
        logits, target = logits[None], target[None]
    log_p = torch.log_softmax(logits, dim=1)
    log_p_t = log_p.gather(1, target.unsqueeze(1)).squeeze(1)
    p_t = log_p_t.exp()
    if alpha is None:
        alpha_t = 1.0
    elif isinstance(alpha, float):
        alpha_t = alpha
    else:
        alpha_t = torch.as_tensor(alpha, dtype=torch.float64)[target]
    loss = -alpha_t * (1 - p_t) ** gamma * log_p_t
    if unbatched:
        loss = loss[0]
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


@given(
    problem=class_problems(min_classes=2),  # C = 1 makes p_t = 1, the formula's 0 * inf
    reduction=REDUCTIONS,
    gamma=st.sampled_from([0.0, 0.5, 1.0, 2.0, 5.0]),
    data=st.data(),
)
@DTYPES
def test_focal_loss_matches_the_formula_in_float64(problem, reduction, gamma, data, dtype):
    shape, num_classes = problem
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    alpha = data.draw(st.sampled_from(["none", "float", "per class"]), label="alpha")
    alpha = {"none": None, "float": 0.25, "per class": rng.uniform(0.1, 2, num_classes)}[alpha]
    x = np.asarray(3 * rng.standard_normal(shape), dtype)
    target = np.asarray(rng.integers(0, num_classes, shape[:1] + shape[2:] if len(shape) > 1
                                     else ()))
    loss = nn.FocalLoss(gamma, alpha, reduction)
    out = loss(x, target)

    x_torch = torch.from_numpy(x.astype(np.float64)).requires_grad_(True)
    expected = focal_formula(x_torch, torch.from_numpy(target), gamma, alpha, reduction)
    # Rounding floors: log_softmax's absolute error grows with |x|, and a gradient entry is a
    # difference of numbers of alpha * grad_out / n's size (p_t - 1 cancels in float32).
    samples = max(target.size, 1)
    alpha_max = 1.0 if alpha is None else float(np.max(alpha))
    loss_floor = alpha_max * max(float(np.abs(x).max(initial=0)), 1.0)
    tol = LOSS_TOLERANCE[np.dtype(dtype)]
    assert_close(out, expected.detach().numpy(), dtype, "focal loss",
                 loss_floor * (samples if reduction == "sum" else 1), tol)
    grad_out = 1.5 if out.ndim == 0 else rng.standard_normal(out.shape).astype(dtype)
    expected.backward(torch.as_tensor(grad_out, dtype=torch.float64))
    grad_floor = alpha_max * float(np.abs(grad_out).max(initial=0))
    grad_floor /= samples if reduction == "mean" else 1
    assert_close(loss.backward(grad_out), x_torch.grad.numpy(), dtype, "focal gradient",
                 grad_floor, tol)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@DTYPES
def test_focal_loss_at_gamma_0_is_cross_entropy(reduction, dtype):
    rng = np.random.default_rng(5)
    x, target = rng.standard_normal((6, 4, 3)).astype(dtype), rng.integers(0, 4, (6, 3))
    focal, cross_entropy = nn.FocalLoss(0.0, None, reduction), nn.CrossEntropyLoss(
        reduction=reduction
    )
    tol = LOSS_TOLERANCE[np.dtype(dtype)]
    assert_close(focal(x, target), cross_entropy(x, target), dtype, "loss", tol=tol)
    grad = 1.0 if reduction != "none" else np.ones((6, 3), dtype)
    assert_close(focal.backward(grad), cross_entropy.backward(grad), dtype, "grad", tol=tol)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("alpha", [None, 0.25, (0.5, 1.0, 2.0, 1.5)])
def test_focal_loss_passes_gradcheck(gamma, alpha):
    rng = np.random.default_rng(6)
    x, target = 2 * rng.standard_normal((5, 4)), rng.integers(0, 4, 5)
    loss = nn.FocalLoss(gamma, alpha)
    assert mc.gradcheck((lambda x: (loss(x, target), None), lambda g, _: loss.backward(g)), x)


@DTYPES
def test_focal_loss_is_finite_for_certain_and_hopeless_predictions(dtype):
    # p_t = 1 exactly (1 - p_t = 0, where gamma < 1 would give 0 * inf) and p_t ~ e^-2e4
    x = np.array([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0]], dtype=dtype)
    target = np.array([0, 1])
    for gamma in (0.0, 0.5, 2.0):
        loss = nn.FocalLoss(gamma, reduction="none")
        out, grad = loss(x, target), loss.backward(np.ones(2, dtype))
        assert np.isfinite(out).all() and np.isfinite(grad).all()
        assert out[0] == 0 and not grad[0].any()  # a certain, right prediction costs nothing


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_focal_loss_with_a_masked_target_class_gives_cross_entropys_gradient_limit(gamma):
    # p_t = 0 exactly (its logit is -inf): the loss is inf, and the gradient is the limit,
    # -(1 - p_t)^gamma = -1 at the target class's log-probability, as cross-entropy's
    x = np.array([[-np.inf, 0.0, 1.0]])
    target = np.array([0])
    focal, cross_entropy = nn.FocalLoss(gamma), nn.CrossEntropyLoss()
    assert focal(x, target) == np.inf == cross_entropy(x, target)
    np.testing.assert_allclose(focal.backward(), cross_entropy.backward(), rtol=1e-15)
