"""Flatten against torch.nn.Flatten."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes
from torch_reference import DTYPES, compare_with_torch

import minicnn as mc
from minicnn import functional as F
from minicnn import nn


@given(shape=array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=4), data=st.data())
@DTYPES
def test_flatten_matches_torch(shape, data, dtype):
    size = max(len(shape), 1)  # a 0-D input takes dims -1 and 0, as in torch
    start = data.draw(st.integers(-size, size - 1), label="start_dim")
    # any end_dim at or after start_dim, written either way
    end = data.draw(st.integers(start % size, size - 1), label="end_dim")
    end = end - size if data.draw(st.booleans(), label="negative end") else end
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    out, theirs = compare_with_torch(nn.Flatten(start, end), torch.nn.Flatten(start, end), x)
    assert out.shape == tuple(theirs.shape)


def test_default_flattens_all_but_the_batch_dim():
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    out, _ = compare_with_torch(nn.Flatten(), torch.nn.Flatten(), x)
    assert out.shape == (2, 60)


def test_gradcheck():
    x = np.random.default_rng(0).standard_normal((2, 3, 2))
    assert mc.gradcheck(nn.Flatten(0, 1), x)
    assert mc.gradcheck((lambda x: F.flatten_forward(x, 1, 2), F.flatten_backward), x)


@pytest.mark.parametrize("args", [(), (0,), (0, 2), (-3, -2), (2, -1)], ids=str)
def test_repr_matches_torch(args):
    assert repr(nn.Flatten(*args)) == repr(torch.nn.Flatten(*args))


@pytest.mark.parametrize(
    ("args", "shape", "error", "match"),
    [
        ((3,), (2, 3, 4), IndexError,
         r"Flatten\(start_dim=3, end_dim=-1\): dimension out of range .*\[-3, 2\].*got 3"),
        ((-4,), (2, 3, 4), IndexError, r"Flatten\(start_dim=-4, .*\[-3, 2\].*got -4"),
        ((0, 3), (2, 3, 4), IndexError, r"Flatten\(start_dim=0, end_dim=3\).*\[-3, 2\].*got 3"),
        ((0, -5), (2, 3, 4), IndexError, r"end_dim=-5\).*\[-3, 2\].*got -5"),
        ((), (), IndexError, r"Flatten\(start_dim=1, end_dim=-1\).*\[-1, 0\].*got 1"),
        ((2, 1), (2, 3, 4), ValueError,
         r"Flatten\(start_dim=2, end_dim=1\): start_dim cannot come after end_dim for 3-D "
         r"input \(dims 2 and 1\)"),
        ((-1, 0), (2, 3, 4), ValueError, r"Flatten\(start_dim=-1, end_dim=0\).*dims 2 and 0"),
        ((1.0,), (2, 3), TypeError, r"Flatten\(start_dim=1.0, .*dim must be an int, got 1.0"),
    ],
)
def test_errors(args, shape, error, match):
    with pytest.raises(error, match=match):
        nn.Flatten(*args)(np.zeros(shape))
    if error is IndexError:  # torch refuses these too
        with pytest.raises(IndexError):
            torch.nn.Flatten(*args)(torch.zeros(shape))


@pytest.mark.parametrize(
    ("x", "match"),
    [(np.zeros((2, 3), np.int64), "got dtype int64"), (np.zeros((2, 3), np.float16), "float16"),
     ([[1.0]], "array, got list")],
)
def test_bad_input(x, match):
    with pytest.raises(TypeError, match=r"Flatten\(start_dim=1, end_dim=-1\).*" + match):
        nn.Flatten()(x)


def test_backward_checks():
    layer = nn.Flatten()
    with pytest.raises(RuntimeError, match=r"Flatten\(.*\): backward\(\) called before forward"):
        layer.backward(np.ones((2, 12)))
    layer(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"Flatten\(.*shape \(2, 12\), got \(2, 3, 4\)"):
        layer.backward(np.ones((2, 3, 4)))
