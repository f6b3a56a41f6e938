"""Dropout: torch's RNG can't be matched, so its properties are checked instead, with torch as
the reference wherever the result is deterministic (eval mode, p=0, p=1, the scale)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes
from torch_reference import DTYPES, compare_with_torch, torch_dtype

import minicnn as mc
from minicnn import nn

PROBABILITIES = pytest.mark.parametrize("p", [0.1, 1 / 3, 0.5, 0.9])


def torch_scale(p, dtype):
    """The value torch's Dropout gives a kept 1.0: its 1/(1-p) in ``dtype``."""
    torch.manual_seed(0)
    out = torch.nn.Dropout(p)(torch.ones(1000, dtype=torch_dtype(dtype)))
    return out[out != 0][0].numpy()


@PROBABILITIES
@DTYPES
def test_training_mask_is_bernoulli_and_scaled_as_torch(p, dtype):
    mc.manual_seed(0)
    x = np.random.default_rng(0).standard_normal(200_000).astype(dtype)
    out = nn.Dropout(p)(x)
    assert out.dtype == dtype and out.shape == x.shape
    kept = out != 0
    # the kept fraction of a Binomial(n, 1 - p), within 6 standard deviations
    assert abs(kept.mean() - (1 - p)) < 6 * np.sqrt(p * (1 - p) / x.size)
    # kept units scaled by exactly torch's 1/(1-p), the others exactly 0
    np.testing.assert_array_equal(out[kept], x[kept] * torch_scale(p, dtype))
    assert (out[~kept] == 0).all()


@PROBABILITIES
def test_masks_are_fresh_and_independent(p):
    layer, x = nn.Dropout(p), np.ones(100_000)
    first, second = layer(x) != 0, layer(x) != 0
    both = (first & second).mean()
    assert abs(both - (1 - p) ** 2) < 6 * np.sqrt((1 - p) ** 2 * (1 - (1 - p) ** 2) / x.size)
    rows = (layer(np.ones((100, 1000))) != 0).mean(axis=1)  # no structure along an axis
    assert np.abs(rows - (1 - p)).max() < 6 * np.sqrt(p * (1 - p) / 1000)


@given(shape=array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6),
       p=st.floats(0.05, 0.95), seed=st.integers(0, 2**16), inplace=st.booleans())
@DTYPES
def test_backward_uses_the_forward_mask(shape, p, seed, inplace, dtype):
    mc.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = np.asarray(rng.random(shape) + 0.5, dtype)  # never 0, so out == 0 marks a dropped unit
    layer = nn.Dropout(p, inplace=inplace)
    out = layer(x)
    assert isinstance(out, np.ndarray) and out.shape == shape and out.dtype == dtype
    grad = np.asarray(rng.standard_normal(shape), dtype)
    grad_before = grad.copy()
    grad_x = layer.backward(grad)
    assert isinstance(grad_x, np.ndarray) and grad_x.dtype == dtype
    expected = np.where(out == 0, 0, grad * torch_scale(p, dtype)).astype(dtype)
    np.testing.assert_array_equal(grad_x, expected)
    np.testing.assert_array_equal(grad, grad_before)
    np.testing.assert_array_equal(layer.backward(grad), grad_x)  # same mask again


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
@DTYPES
def test_eval_mode_is_the_identity_as_in_torch(p, dtype):
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(dtype)
    layer = nn.Dropout(p).eval()
    assert not layer.training
    out, _ = compare_with_torch(layer, torch.nn.Dropout(p).eval(), x)
    np.testing.assert_array_equal(out, x)
    layer(x)
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), np.ones_like(x))
    layer.train()
    assert layer.training


@pytest.mark.filterwarnings("ignore:invalid value encountered in multiply:RuntimeWarning")
@DTYPES
def test_p0_is_the_identity_and_p1_gives_zeros_as_torch(dtype):
    x = np.array([[np.nan, np.inf, -1.0], [2.0, -np.inf, 0.5]], dtype)
    for p in (0.0, 0, 1.0, 1):
        out, theirs = compare_with_torch(nn.Dropout(p), torch.nn.Dropout(p), x)
        np.testing.assert_array_equal(out, theirs.detach().numpy())  # NaN * 0 stays NaN too
    finite = np.random.default_rng(0).standard_normal((3, 4)).astype(dtype)
    np.testing.assert_array_equal(nn.Dropout(0.0)(finite), finite)
    layer = nn.Dropout(1.0)
    assert not layer(finite).any() and not layer.backward(np.ones_like(finite)).any()


def test_manual_seed_reproduces_masks():
    x = np.ones((50, 50), np.float32)
    mc.manual_seed(3)
    first = nn.Dropout()(x)
    second = nn.Dropout()(x)
    assert not np.array_equal(first, second)
    mc.manual_seed(3)
    np.testing.assert_array_equal(nn.Dropout()(x), first)
    np.testing.assert_array_equal(nn.Dropout()(x), second)
    mc.manual_seed(4)
    assert not np.array_equal(nn.Dropout()(x), first)


@DTYPES
def test_inplace_writes_into_the_input(dtype):
    mc.manual_seed(0)
    x = np.random.default_rng(0).random((10, 10)).astype(dtype) + 1
    before = x.copy()
    layer = nn.Dropout(0.5, inplace=True)
    out = layer(x)
    assert np.shares_memory(out, x) and (x == 0).any() and (x != 0).any()
    np.testing.assert_array_equal(x[x != 0], before[x != 0] * torch_scale(0.5, dtype))
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)) == 0, x == 0)
    # 0-D input stays an array, in place or not
    for inplace in (False, True):
        scalar = np.array(2.0, dtype)
        out = nn.Dropout(0.5, inplace=inplace)(scalar)
        assert isinstance(out, np.ndarray) and out.shape == () and out.dtype == dtype


@pytest.mark.parametrize("p", [0.0, 0.4, 0.9])
def test_gradcheck_replays_the_mask(p):
    assert mc.gradcheck(nn.Dropout(p), np.random.default_rng(0).standard_normal((4, 5)))
    assert mc.gradcheck(nn.Dropout(p).eval(), np.random.default_rng(0).standard_normal((4, 5)))


@pytest.mark.parametrize("args", [(), (0.2,), (0.2, True), (1,), (0,), (1.0,)], ids=str)
def test_repr_matches_torch(args):
    assert repr(nn.Dropout(*args)) == repr(torch.nn.Dropout(*args))


@pytest.mark.parametrize(
    ("p", "error", "match"),
    [(1.5, ValueError, r"Dropout: dropout probability has to be between 0 and 1, but got 1.5"),
     (-0.1, ValueError, r"between 0 and 1, but got -0.1"),
     (float("nan"), ValueError, r"between 0 and 1, but got nan"),
     ("0.5", TypeError, r"Dropout: p must be a float, got str"),
     (None, TypeError, r"Dropout: p must be a float, got NoneType"),
     ([0.5], TypeError, r"Dropout: p must be a float, got list")],
)
def test_bad_p(p, error, match):
    with pytest.raises(error, match=match):
        nn.Dropout(p)
    if error is ValueError and not np.isnan(p):  # torch refuses these too (NaN it lets by)
        with pytest.raises(ValueError):
            torch.nn.Dropout(p)


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [(np.zeros(3, np.int64), TypeError, r"Dropout\(p=0.5, inplace=False\).*got dtype int64"),
     (np.zeros(3, np.float16), TypeError, r"Dropout\(.*got dtype float16"),
     ([0.0, 1.0], TypeError, r"Dropout\(.*array, got list")],
)
def test_bad_input(x, error, match):
    with pytest.raises(error, match=match):
        nn.Dropout()(x)


def test_backward_checks():
    layer = nn.Dropout(0.3)
    with pytest.raises(RuntimeError, match=r"Dropout\(p=0.3, inplace=False\): backward\(\) "
                                           r"called before forward"):
        layer.backward(np.ones(3))
    layer(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"Dropout\(p=0.3.*shape \(2, 3\), got \(3,\)"):
        layer.backward(np.ones(3))
