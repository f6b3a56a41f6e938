"""Linear against torch.nn.Linear over any leading dims, both dtypes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes
from torch_reference import DTYPES, assert_close, compare_with_torch, torch_dtype

import minicnn as mc
from minicnn import functional as F
from minicnn import nn


@given(
    # no leading dims (1-D input) up to three, empty ones included
    leading=array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
    in_features=st.integers(1, 8), out_features=st.integers(1, 8), bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
@DTYPES
def test_linear_matches_torch(leading, in_features, out_features, bias, seed, dtype):
    mc.manual_seed(seed)
    ours = nn.Linear(in_features, out_features, bias=bias, dtype=dtype)
    theirs = torch.nn.Linear(in_features, out_features, bias=bias, dtype=torch_dtype(dtype))
    x = np.random.default_rng(seed).standard_normal((*leading, in_features)).astype(dtype)
    out, _ = compare_with_torch(ours, theirs, x, seed=seed)
    assert out.shape == (*leading, out_features)
    assert ours.weight.data.dtype == ours.weight.grad.dtype == dtype
    if bias:
        assert ours.bias.data.dtype == ours.bias.grad.dtype == dtype


@DTYPES
def test_one_dim_input(dtype):
    ours = nn.Linear(5, 3, dtype=dtype)
    x = np.random.default_rng(0).standard_normal(5).astype(dtype)
    out, _ = compare_with_torch(ours, torch.nn.Linear(5, 3, dtype=torch_dtype(dtype)), x)
    assert out.shape == (3,)


@DTYPES
def test_functional_pair_matches_torch(dtype):
    rng = np.random.default_rng(1)
    x, weight, bias = (rng.standard_normal(s).astype(dtype) for s in [(2, 3, 4), (5, 4), (5,)])
    out, cache = F.linear_forward(x, weight, bias)
    tensors = [torch.from_numpy(a).requires_grad_(True) for a in (x, weight, bias)]
    expected = torch.nn.functional.linear(*tensors)
    assert_close(out, expected.detach().numpy(), dtype, "linear_forward")
    grad = rng.standard_normal(out.shape).astype(dtype)
    expected.backward(torch.from_numpy(grad))
    for ours, theirs, what in zip(F.linear_backward(grad, cache), tensors, "xwb", strict=True):
        assert_close(ours, theirs.grad.numpy(), dtype, f"grad {what}", np.abs(grad).max())
    _, cache = F.linear_forward(x, weight)
    assert F.linear_backward(grad, cache)[2] is None


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(2, 5, 4), (4,)])
def test_linear_gradcheck(bias, shape):
    layer = nn.Linear(4, 3, bias=bias, dtype=np.float64)
    assert mc.gradcheck(layer, np.random.default_rng(0).standard_normal(shape))


def test_gradcheck_functional_pair():
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal(s) for s in [(3, 4), (2, 4), (2,)]]
    assert mc.gradcheck((F.linear_forward, F.linear_backward), arrays)


@pytest.mark.parametrize("dtype", ["float64", np.float64, None])
def test_dtype_argument(dtype):
    layer = nn.Linear(3, 2, dtype=dtype)
    expected = np.float32 if dtype is None else np.float64
    assert layer.weight.dtype == layer.bias.dtype == expected
    out = layer(np.ones((4, 3), expected))
    assert out.dtype == layer.backward(np.ones_like(out)).dtype == expected
    assert nn.Linear(3, 2, device="cpu").weight.data.dtype == np.float32


def test_repr_follows_torch():
    for options in [dict(), dict(bias=False), dict(bias=True)]:
        assert repr(nn.Linear(3, 4, **options)) == repr(torch.nn.Linear(3, 4, **options))
    assert nn.Linear(3, 4, bias=False).bias is None


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (np.zeros((2, 5), np.float32), ValueError,
         r"Linear\(in_features=4, out_features=3, bias=True\): expected input of shape "
         r"\(\.\.\., 4\), got shape \(2, 5\)"),
        (np.zeros((), np.float32), ValueError, r"Linear\(.*\(\.\.\., 4\), got shape \(\)"),
        (np.zeros((2, 4), np.float64), TypeError,
         r"Linear\(.*input dtype float64 does not match the layer's dtype float32"),
        (np.zeros((2, 4), np.int32), TypeError, r"Linear\(.*float32 or float64.*got dtype int32"),
        (np.zeros((2, 4), np.float16), TypeError, r"Linear\(.*float32.*got dtype float16"),
        ([[0.0] * 4], TypeError, r"Linear\(.*expected a numpy or cupy array, got list"),
    ],
)
def test_linear_rejects_bad_input(x, error, match):
    with pytest.raises(error, match=match):
        nn.Linear(4, 3)(x)


def test_float32_input_into_a_float64_layer():
    with pytest.raises(TypeError, match="input dtype float32 does not match the layer's dtype "
                                        "float64"):
        nn.Linear(4, 3, dtype=np.float64)(np.zeros((2, 4), np.float32))


def test_backward_checks():
    layer = nn.Linear(4, 3)
    with pytest.raises(RuntimeError, match=r"Linear\(in_features=4.*backward\(\) called before"):
        layer.backward(np.ones((2, 3), np.float32))
    layer(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"Linear\(.*shape \(2, 3\), got \(2, 4\)"):
        layer.backward(np.ones((2, 4), np.float32))
    with pytest.raises(TypeError, match=r"Linear\(.*dtype float32, got float64"):
        layer.backward(np.ones((2, 3)))
    assert layer.weight.grad is None  # a failed backward adds nothing


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [(dict(in_features=0, out_features=3), ValueError, "in_features must be positive, got 0"),
     (dict(in_features=2, out_features=-1), ValueError, "out_features must be positive, got -1"),
     (dict(in_features=2.0, out_features=3), TypeError, "in_features must be an int, got 2.0"),
     (dict(in_features=2, out_features=3, dtype=np.int64), TypeError,
      "dtype must be float32 or float64, got int64"),
     (dict(in_features=2, out_features=3, dtype=np.float16), TypeError, "got float16")],
)
def test_linear_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=r"Linear\(in_features=.*" + match):
        nn.Linear(**kwargs)
