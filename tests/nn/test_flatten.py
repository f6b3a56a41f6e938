"""Flatten against torch.nn.Flatten."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes
from torch_reference import compare_with_torch

from minicnn import nn


@given(shape=array_shapes(min_dims=1, max_dims=5, max_side=4), data=st.data())
def test_flatten_matches_torch(shape, data):
    ndim = len(shape)
    start = data.draw(st.integers(-ndim, ndim - 1), label="start_dim")
    end = data.draw(st.integers(start % ndim - ndim, -1) | st.integers(start % ndim, ndim - 1))
    x = np.random.default_rng(0).standard_normal(shape)
    compare_with_torch(nn.Flatten(start, end), torch.nn.Flatten(start, end), x)


def test_flatten_repr_and_errors():
    assert repr(nn.Flatten()) == repr(torch.nn.Flatten())
    with pytest.raises(IndexError, match=r"Flatten\(start_dim=3, end_dim=-1\).*got 3"):
        nn.Flatten(3)(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="start_dim cannot come after end_dim"):
        nn.Flatten(2, 1)(np.zeros((2, 3, 4)))
