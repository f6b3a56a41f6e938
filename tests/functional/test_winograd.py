"""Winograd's F(2x2, 3x3) (functional.winograd) against PyTorch's conv2d, through the Numba
transforms and through their plain twins: the forward and both gradients over random shapes,
odd sizes and zero borders up to 2, in chunks of one image or of the whole batch. An inf or
NaN must come back as None (the caller then runs im2col), never as a wrong number."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st
from torch_reference import DTYPES, assert_close

from minicnn.backend import plain_kernels
from minicnn.functional import winograd


@st.composite
def winograd_cases(draw):
    """(x shape, output channels, (top, bottom, left, right) zero border): any border up to
    2, a padded input of at least 3x3, an even or odd output."""
    pads = tuple(draw(st.integers(0, 2)) for _ in range(4))
    size = tuple(max(1, 3 - before - after) + draw(st.integers(0, 6))
                 for before, after in (pads[:2], pads[2:]))
    shape = (draw(st.integers(0, 3)), draw(st.integers(1, 4)), *size)
    return shape, draw(st.integers(1, 4)), pads


@given(case=winograd_cases(), seed=st.integers(0, 2**16), bias=st.booleans(),
       chunk=st.integers(1, 3), use_plain=st.booleans(),
       planted=st.sampled_from([None, None, np.inf, -np.inf, np.nan]),
       planted_in=st.sampled_from(["x", "weight", "grad_out"]))
@DTYPES
def test_winograd_matches_torch(case, seed, bias, chunk, use_plain, planted, planted_in,
                                dtype):
    shape, out_channels, (top, bottom, left, right) = case
    # a budget for ``chunk`` images of the larger of the two passes' workspaces (the last
    # chunk may be shorter)
    larger = max(shape[2:], (shape[2] + top + bottom - 2, shape[3] + left + right - 2))
    tiles = ((larger[0] + 1) // 2) * ((larger[1] + 1) // 2 + 1)
    budget = chunk * 16 * (shape[1] + out_channels) * tiles * np.dtype(dtype).itemsize
    rng = np.random.default_rng(seed)
    out_size = (shape[2] + top + bottom - 2, shape[3] + left + right - 2)
    arrays = {name: rng.standard_normal(s).astype(dtype) for name, s in
              (("x", shape), ("weight", (out_channels, shape[1], 3, 3)),
               ("grad_out", (shape[0], out_channels, *out_size)))}
    if planted is not None and arrays[planted_in].size:
        arrays[planted_in].reshape(-1)[rng.integers(arrays[planted_in].size)] = planted
    x, weight, grad_out = arrays["x"], arrays["weight"], arrays["grad_out"]
    b = rng.standard_normal(out_channels).astype(dtype) if bias else None

    x_torch, w_torch = (torch.from_numpy(a).requires_grad_() for a in (x, weight))
    out_torch = TF.conv2d(TF.pad(x_torch, (left, right, top, bottom)), w_torch,
                          None if b is None else torch.from_numpy(b))
    out_torch.backward(torch.from_numpy(grad_out))

    with plain_kernels() if use_plain else nullcontext(), np.errstate(invalid="ignore"):
        results = (
            winograd.winograd_conv2d_forward(x, weight, b, (top, left), out_size, budget),
            winograd.winograd_conv2d_input_grad(grad_out, weight, shape, (top, left), budget),
            winograd.winograd_conv2d_weight_grad(x, grad_out, (top, left), budget),
        )
    for result, expected, what, inputs in zip(
            results, (out_torch.detach(), x_torch.grad, w_torch.grad),
            ("forward", "input gradient", "weight gradient"),
            (("x", "weight"), ("grad_out", "weight"), ("x", "grad_out")), strict=True):
        expected = expected.numpy()
        # An inf spreads further in Winograd's tiles than in a plain sum: a result of PyTorch's
        # with an inf or NaN must come back None (im2col then computes it). None is allowed
        # for finite ones too (an inf weight meeting only the border, which PyTorch drops),
        # but not without an inf or NaN in the result's inputs.
        if planted is None or planted_in not in inputs:
            assert result is not None, what
        if not np.isfinite(expected).all():
            assert result is None, what
        if result is not None:
            assert result.dtype == dtype, what
            assert_close(result, expected, dtype, f"winograd {what}")
