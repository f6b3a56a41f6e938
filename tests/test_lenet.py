"""LeNet-5 built in minicnn and in PyTorch from the same weights: same logits, same gradients."""

from __future__ import annotations

import numpy as np
import torch
from torch_reference import DTYPES, assert_close, compare_with_torch, torch_dtype

import minicnn as mc
from minicnn import nn


def lenet(lib, dtype):
    """LeNet-5 as in API.md, in minicnn (lib=nn) or PyTorch (lib=torch.nn)."""
    options = {"dtype": dtype}
    return lib.Sequential(
        lib.Conv2d(1, 6, 5, padding=2, **options), lib.ReLU(), lib.MaxPool2d(2),
        lib.Conv2d(6, 16, 5, **options), lib.ReLU(), lib.MaxPool2d(2),
        lib.Flatten(), lib.Linear(16 * 5 * 5, 120, **options), lib.ReLU(),
        lib.Dropout(0.5), lib.Linear(120, 84, **options), lib.Tanh(),
        lib.Linear(84, 10, **options), lib.LogSoftmax(dim=1),
    )


@DTYPES
def test_lenet_matches_torch(dtype):
    mc.manual_seed(0)
    ours = lenet(nn, dtype).eval()
    theirs = lenet(torch.nn, torch_dtype(dtype)).eval()
    x = np.random.default_rng(0).random((8, 1, 28, 28)).astype(dtype)
    compare_with_torch(ours, theirs, x)


def test_torch_weights_load_unchanged():
    """A PyTorch state_dict converted with .numpy() loads as it is and the outputs agree."""
    torch.manual_seed(0)
    theirs = lenet(torch.nn, torch.float32).eval()
    ours = lenet(nn, np.float32).eval()
    ours.load_state_dict({key: value.numpy() for key, value in theirs.state_dict().items()})
    x = np.random.default_rng(1).random((4, 1, 28, 28)).astype(np.float32)
    expected = theirs(torch.from_numpy(x)).detach().numpy()
    assert_close(ours(x), expected, np.float32, "LeNet-5 with torch's weights")


def test_lenet_training_step_keeps_float32():
    model = lenet(nn, np.float32)
    out = model(np.random.default_rng(0).random((2, 1, 28, 28)).astype(np.float32))
    grad_x = model.backward(np.ones_like(out))
    assert out.dtype == grad_x.dtype == np.float32
    assert all(param.grad.dtype == np.float32 for param in model.parameters())
