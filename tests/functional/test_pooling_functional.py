"""The functional pooling pairs: PyTorch's output sizes, and finite differences through the
(forward, backward) pairs themselves, without the modules around them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import minicnn as mc
from minicnn import functional as F


@st.composite
def pool_geometry(draw):
    kernel = draw(st.integers(1, 5))
    dilation = draw(st.integers(1, 3))
    padding = draw(st.integers(0, kernel // 2))
    stride = draw(st.integers(1, 4))
    size = max(1, dilation * (kernel - 1) + 1 - 2 * padding) + draw(st.integers(0, 9))
    return size, kernel, stride, padding, dilation


@given(rows=pool_geometry(), cols=pool_geometry(), ceil_mode=st.booleans())
def test_pool_output_shape_matches_torch(rows, cols, ceil_mode):
    """Including ceil_mode's rule that the last window must start inside the input."""
    size, kernel, stride, padding, dilation = zip(rows, cols, strict=True)
    expected = torch.nn.functional.max_pool2d(
        torch.zeros(1, 1, *size), kernel, stride, padding, dilation, ceil_mode=ceil_mode
    ).shape[2:]
    assert F.pool_output_shape(size, kernel, stride, padding, dilation, ceil_mode) == expected


def spaced_distinct(shape, seed=0):
    values = np.random.default_rng(seed).permutation(int(np.prod(shape))) * 0.1 + 0.5
    return values.reshape(shape)


@pytest.mark.parametrize(
    "pair",
    [
        (lambda x: F.max_pool2d_forward(x, (2, 3), (1, 2), (1, 1), (2, 1), True),
         F.max_pool2d_backward),
        (lambda x: F.avg_pool2d_forward(x, (3, 2), (2, 1), (1, 1), True, False),
         F.avg_pool2d_backward),
        (lambda x: F.avg_pool2d_forward(x, (2, 2), (1, 1), (1, 0), False, True, 3),
         F.avg_pool2d_backward),
        (lambda x: F.lp_pool2d_forward(x, 2.5, (2, 2), (2, 1), True), F.lp_pool2d_backward),
        (lambda x: F.adaptive_avg_pool2d_forward(x, (3, 4)), F.adaptive_avg_pool2d_backward),
    ],
    ids=["max", "avg-ceil", "avg-divisor", "lp", "adaptive"],
)
def test_functional_pools_gradcheck(pair):
    assert mc.gradcheck(pair, spaced_distinct((2, 1, 5, 5)))
