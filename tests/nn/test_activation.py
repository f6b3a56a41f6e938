"""ReLU, Sigmoid, Tanh, Softmax and LogSoftmax against torch, over random shapes and dims."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes
from torch_reference import compare_with_torch

import minicnn as mc
from minicnn import nn

DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])

ELEMENTWISE = {
    "relu": (nn.ReLU, torch.nn.ReLU),
    "sigmoid": (nn.Sigmoid, torch.nn.Sigmoid),
    "tanh": (nn.Tanh, torch.nn.Tanh),
}


def random_input(shape, dtype, seed, scale=3.0):
    return np.asarray(scale * np.random.default_rng(seed).standard_normal(shape), dtype=dtype)


@given(shape=array_shapes(min_dims=0, max_dims=4, max_side=5), seed=st.integers(0, 2**16))
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
@DTYPES
def test_elementwise_matches_torch(name, shape, seed, dtype):
    ours, theirs = ELEMENTWISE[name]
    compare_with_torch(ours(), theirs(), random_input(shape, dtype, seed), seed=seed)


@given(shape=array_shapes(min_dims=0, max_dims=4, max_side=5), data=st.data())
@pytest.mark.parametrize("name", ["Softmax", "LogSoftmax"])
@DTYPES
def test_softmax_matches_torch_on_every_dim(name, shape, data, dtype):
    ndim = max(len(shape), 1)
    dim = data.draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1)), label="dim")
    x = random_input(shape, dtype, data.draw(st.integers(0, 2**16)), scale=10.0)
    with warnings.catch_warnings():  # torch warns about the implicit dim=None
        warnings.simplefilter("ignore", UserWarning)
        compare_with_torch(getattr(nn, name)(dim), getattr(torch.nn, name)(dim), x)


@pytest.mark.parametrize("name", ["Softmax", "LogSoftmax", "Sigmoid", "Tanh"])
@DTYPES
def test_extreme_logits_stay_finite(name, dtype):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], dtype=dtype)
    layer = getattr(nn, name)(*([1] if "Softmax" in name else []))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings either
        out = layer(x)
        grad = layer.backward(np.ones_like(out))
    assert np.isfinite(out).all() and np.isfinite(grad).all()
    theirs = getattr(torch.nn, name)(*([1] if "Softmax" in name else []))
    np.testing.assert_allclose(out, theirs(torch.from_numpy(x)).numpy(), rtol=1e-6, atol=1e-30)


@pytest.mark.parametrize("name", ["ReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax"])
def test_nan_propagates_as_in_torch(name):
    x = np.array([[np.nan, 1.0, -2.0], [0.5, -0.5, 3.0]])
    ours, theirs = getattr(nn, name)(), getattr(torch.nn, name)()
    if "Softmax" in name:
        ours, theirs = getattr(nn, name)(1), getattr(torch.nn, name)(1)
    compare_with_torch(ours, theirs, x)


def test_relu_inplace_overwrites_its_input_like_torch():
    x = np.random.default_rng(0).standard_normal((3, 4))
    expected = torch.relu(torch.from_numpy(x.copy())).numpy()
    out = nn.ReLU(inplace=True)(x)
    assert out is x or np.shares_memory(out, x)
    np.testing.assert_array_equal(x, expected)
    assert repr(nn.ReLU(inplace=True)) == repr(torch.nn.ReLU(inplace=True))


@pytest.mark.parametrize(
    "layer", [nn.Sigmoid(), nn.Tanh(), nn.Softmax(1), nn.LogSoftmax(0), nn.Softmax(-1)]
)
def test_gradcheck(layer):
    assert mc.gradcheck(layer, np.random.default_rng(0).standard_normal((3, 4)))


def test_gradcheck_relu_away_from_the_kink():
    x = np.random.default_rng(1).uniform(0.1, 1.0, (3, 4)) * np.array([1, -1, 1, -1])
    assert mc.gradcheck(nn.ReLU(), x)


@pytest.mark.parametrize(
    ("layer", "x", "error", "match"),
    [
        (nn.Softmax(2), np.zeros((2, 3)), IndexError, r"Softmax\(dim=2\).*\[-2, 1\].*got 2"),
        (nn.LogSoftmax(-3), np.zeros((2, 3)), IndexError, "out of range"),
        (nn.ReLU(), np.zeros(3, np.int64), TypeError, r"ReLU\(\).*int64"),
        (nn.Tanh(), np.zeros(3, np.float16), TypeError, "float16"),
        (nn.Sigmoid(), [1.0, 2.0], TypeError, "list"),
    ],
)
def test_bad_input(layer, x, error, match):
    with pytest.raises(error, match=match):
        layer(x)


def test_backward_checks():
    layer = nn.Sigmoid()
    with pytest.raises(RuntimeError, match=r"Sigmoid\(\): backward\(\) called before forward"):
        layer.backward(np.ones(3))
    layer(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"\(2, 3\), got \(3, 2\)"):
        layer.backward(np.ones((3, 2)))


def test_repr_matches_torch():
    for ours, theirs in [(nn.Softmax(), torch.nn.Softmax()), (nn.LogSoftmax(1),
                         torch.nn.LogSoftmax(1)), (nn.Sigmoid(), torch.nn.Sigmoid())]:
        assert repr(ours) == repr(theirs)
