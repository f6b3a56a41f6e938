"""pad2d and its backward against torch.nn.functional.pad in PyTorch's four modes."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st
from torch_reference import DTYPES, assert_close

from minicnn import functional as F

TORCH_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate",
               "circular": "circular"}


@st.composite
def padding_cases(draw):
    mode = draw(st.sampled_from(sorted(TORCH_MODES)))
    pads = tuple(draw(st.integers(0, 3)) for _ in range(4))  # top, bottom, left, right
    sizes = []
    for before, after in (pads[:2], pads[2:]):
        smallest = {"reflect": max(before, after) + 1, "circular": max(before, after, 1)}
        sizes.append(smallest.get(mode, 1) + draw(st.integers(0, 4)))
    return mode, pads, (draw(st.integers(1, 2)), draw(st.integers(1, 3)), *sizes)


@given(case=padding_cases(), seed=st.integers(0, 2**16))
@DTYPES
def test_pad2d_and_backward_match_torch(case, seed, dtype):
    mode, pads, shape = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    padded = F.pad2d(x, pads, mode)
    x_torch = torch.from_numpy(x.copy()).requires_grad_(True)
    top, bottom, left, right = pads
    expected = TF.pad(x_torch, (left, right, top, bottom), mode=TORCH_MODES[mode])
    assert_close(padded, expected.detach().numpy(), dtype, f"pad2d {mode}")

    grad = rng.standard_normal(padded.shape).astype(dtype)
    expected.backward(torch.from_numpy(grad.copy()))
    grad_x = F.pad2d_backward(grad, shape[2:], pads, mode)
    assert_close(grad_x, x_torch.grad.numpy(), dtype, f"pad2d_backward {mode}", 1.0)
