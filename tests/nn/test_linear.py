"""Linear against torch.nn.Linear over any leading dims, both dtypes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes
from torch_reference import compare_with_torch, torch_dtype

import minicnn as mc
from minicnn import nn


@given(
    leading=array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4),
    in_features=st.integers(1, 8), out_features=st.integers(1, 8), bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_linear_matches_torch(leading, in_features, out_features, bias, seed, dtype):
    mc.manual_seed(seed)
    ours = nn.Linear(in_features, out_features, bias=bias, dtype=dtype)
    theirs = torch.nn.Linear(in_features, out_features, bias=bias, dtype=torch_dtype(dtype))
    x = np.random.default_rng(seed).standard_normal((*leading, in_features)).astype(dtype)
    compare_with_torch(ours, theirs, x, seed=seed)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradcheck(bias):
    layer = nn.Linear(4, 3, bias=bias, dtype=np.float64)
    assert mc.gradcheck(layer, np.random.default_rng(0).standard_normal((2, 5, 4)))


def test_linear_init_and_repr_follow_torch():
    mc.manual_seed(0)
    layer = nn.Linear(50, 20)
    bound = 1 / np.sqrt(50)
    assert layer.weight.dtype == layer.bias.dtype == np.float32
    assert np.abs(layer.weight.data).max() <= bound < 1.1 * np.abs(layer.weight.data).max()
    assert np.abs(layer.bias.data).max() <= bound
    assert abs(layer.weight.data.mean()) < 0.1 * bound  # centred, as a uniform on +-bound
    for options in [dict(), dict(bias=False)]:
        assert repr(nn.Linear(3, 4, **options)) == repr(torch.nn.Linear(3, 4, **options))


def test_manual_seed_makes_init_reproducible():
    mc.manual_seed(7)
    first = nn.Linear(5, 5).weight.data.copy()
    mc.manual_seed(7)
    np.testing.assert_array_equal(nn.Linear(5, 5).weight.data, first)
    assert not np.array_equal(nn.Linear(5, 5).weight.data, first)


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (np.zeros((2, 5), np.float32), ValueError,
         r"Linear\(in_features=4, out_features=3, bias=True\): expected input of shape "
         r"\(\.\.\., 4\), got shape \(2, 5\)"),
        (np.zeros((), np.float32), ValueError, r"got shape \(\)"),
        (np.zeros((2, 4), np.float64), TypeError, "float64 does not match.*float32"),
        (np.zeros((2, 4), np.int32), TypeError, "int32"),
    ],
)
def test_linear_rejects_bad_input(x, error, match):
    with pytest.raises(error, match=match):
        nn.Linear(4, 3)(x)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [(dict(in_features=0, out_features=3), ValueError),
     (dict(in_features=2.0, out_features=3), TypeError),
     (dict(in_features=2, out_features=3, dtype=np.int64), TypeError)],
)
def test_linear_rejects_bad_arguments(kwargs, error):
    with pytest.raises(error, match="Linear"):
        nn.Linear(**kwargs)
