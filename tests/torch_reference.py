"""One helper that runs a case in minicnn and in PyTorch and compares everything.

``compare_with_torch(ours, theirs, x)`` copies minicnn's parameters into the torch module,
runs both forwards on the same input, feeds both the same random output gradient, and compares
the output, the input gradient and every parameter gradient, and that dtypes are preserved.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from gpu_support import host

# MINICNN_TEST_DEVICE=cuda runs minicnn's side of every comparison on the GPU (CuPy): the
# module moved with .to('cuda'), the input and the output gradient as CuPy arrays. The results
# are checked to live on the GPU, then compared with PyTorch's on the host, at the same
# tolerances. That makes the layer and loss suites the GPU suite too.
DEVICE = os.environ.get("MINICNN_TEST_DEVICE", "cpu")


def on_device(array):
    """``array`` on the device under test (a NumPy array when that is the CPU)."""
    if DEVICE == "cpu" or not isinstance(array, np.ndarray):
        return array
    import cupy

    return cupy.asarray(array)


def from_device(array, what: str):
    """A result of the device under test, checked to be on it, as a NumPy array."""
    if DEVICE != "cpu":
        assert not isinstance(array, np.ndarray), f"{what}: on the CPU, expected the GPU"
        return host(array)
    return array

TOLERANCE = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-4}

# Runs a test once per dtype: float64 (the tight check) and float32 (the default dtype).
DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])


def torch_dtype(dtype) -> torch.dtype:
    """The torch dtype of a NumPy float dtype."""
    return torch.float64 if np.dtype(dtype) == np.float64 else torch.float32


def assert_close(
    actual, expected, dtype, what: str, scale_floor: float = 0.0, tol: float | None = None
) -> None:
    """Relative to the largest finite reference magnitude (at least ``scale_floor``), so that
    near-zero entries from cancellation pass; infinities and NaNs must sit in the same places.
    ``tol`` overrides the dtype's relative tolerance.

    Gradients pass the largest |grad_output| as the floor: a gradient that is tiny everywhere
    (tanh saturating) is a difference of rounded numbers of grad_output's size.
    """
    expected = np.asarray(expected)
    assert isinstance(actual, np.ndarray), f"{what}: got {type(actual).__name__}, not an array"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == dtype, f"{what}: dtype {actual.dtype}, expected {dtype}"
    tol = TOLERANCE[np.dtype(dtype)] if tol is None else tol
    finite = np.abs(expected[np.isfinite(expected)])
    scale = max(float(finite.max()) if finite.size else 0.0, scale_floor)
    np.testing.assert_allclose(
        actual, expected, rtol=tol, atol=tol * max(scale, 1e-30), err_msg=what, equal_nan=True
    )


def to_torch_module(ours, theirs: torch.nn.Module) -> torch.nn.Module:
    """Load minicnn's parameters into ``theirs`` (same keys), in minicnn's dtype."""
    state = {key: torch.from_numpy(value) for key, value in ours.state_dict().items()}
    theirs.load_state_dict(state)
    return theirs


def compare_with_torch(ours, theirs, x: np.ndarray, *, seed: int = 0, output_index=None):
    """Run forward and backward in both libraries and assert they agree.

    ``theirs`` is a torch module (weights are copied from ``ours``) or a function of a tensor.
    ``output_index`` picks one output when the forwards return tuples (MaxPool2d indices).
    Returns (our output, torch output) for extra checks.
    """
    dtype = x.dtype
    x_before = x.copy()
    if isinstance(theirs, torch.nn.Module):
        to_torch_module(ours, theirs)
        theirs.zero_grad()
    ours.zero_grad()
    if DEVICE != "cpu":
        ours.to(DEVICE)
    x_ours = on_device(x.copy())
    out = ours(x_ours)
    x_torch = torch.from_numpy(x.copy()).requires_grad_(True)
    out_torch = theirs(x_torch)
    if output_index is not None:
        out, out_torch = out[output_index], out_torch[output_index]
    out = from_device(out, "forward")
    assert_close(out, out_torch.detach().numpy(), dtype, f"{ours!r} forward")

    grad_out = np.random.default_rng(seed).standard_normal(out.shape).astype(dtype)
    grad_before = grad_out.copy()
    out_torch.backward(torch.from_numpy(grad_out.copy()))
    grad_out_ours = on_device(grad_out)
    grad_x = from_device(ours.backward(grad_out_ours), "input gradient")
    floor = float(np.abs(grad_out).max(initial=0.0))
    assert_close(grad_x, x_torch.grad.numpy(), dtype, f"{ours!r} input gradient", floor)
    np.testing.assert_array_equal(
        host(grad_out_ours), grad_before, err_msg="backward modified grad_output"
    )
    inplace = getattr(ours, "inplace", False)
    if not inplace:
        np.testing.assert_array_equal(host(x_ours), x_before, err_msg="the input was modified")

    if isinstance(theirs, torch.nn.Module):
        torch_params = dict(theirs.named_parameters())
        for name, param in ours.named_parameters():
            expected = torch_params[name].grad.numpy()
            grad = from_device(param.grad, f"d{name}")
            assert_close(grad, expected, dtype, f"{ours!r} d{name}", floor)
    if DEVICE != "cpu":
        ours.to("cpu")
    return out, out_torch


# The losses' tolerances (issue 4): tighter than the layers' in float32.
LOSS_TOLERANCE = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-5}


def compare_loss_with_torch(ours, theirs, x: np.ndarray, target: np.ndarray, *, seed: int = 0):
    """Run a loss forward and backward in both libraries and assert they agree.

    ``theirs`` is a torch loss (module or function of (input, target)). Integer targets go to
    torch as int64. The backward gets a random grad_output: a Python float for a scalar loss,
    an array of the loss's shape for reduction='none'. Returns (our loss, our input gradient).
    """
    dtype = x.dtype
    tol = LOSS_TOLERANCE[np.dtype(dtype)]
    x_before, target_before = x.copy(), target.copy()
    x_ours, target_ours = on_device(x), on_device(target)
    out = from_device(ours(x_ours, target_ours), "loss")
    x_torch = torch.from_numpy(x.copy()).requires_grad_(True)
    target_torch = torch.from_numpy(target.copy())
    if target.dtype.kind in "iu":
        target_torch = target_torch.long()
    out_torch = theirs(x_torch, target_torch)
    assert_close(out, out_torch.detach().numpy(), dtype, f"{ours!r} forward", tol=tol)

    rng = np.random.default_rng(seed)
    if out.ndim == 0:
        grad_out = float(rng.uniform(0.5, 2.0))
        out_torch.backward(torch.tensor(grad_out, dtype=torch_dtype(dtype)))
    else:
        grad_out = rng.standard_normal(out.shape).astype(dtype)
        out_torch.backward(torch.from_numpy(grad_out.copy()))
    grad_x = from_device(ours.backward(on_device(grad_out)), "input gradient")
    floor = float(np.abs(grad_out).max(initial=0.0)) / max(x.size, 1)
    assert_close(grad_x, x_torch.grad.numpy(), dtype, f"{ours!r} input gradient", floor, tol)
    np.testing.assert_array_equal(host(x_ours), x_before, err_msg="the loss modified its input")
    np.testing.assert_array_equal(
        host(target_ours), target_before, err_msg="the loss modified the target"
    )
    return out, grad_x
