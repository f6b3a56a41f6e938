"""The benchmarks' own helpers: the textbook engine computes what PyTorch computes (so the
yardstick is honest), and the memory and start-up measurements run and give sane numbers."""

import numpy as np
import pytest
import torch

from benchmarks import compile_time, memory
from benchmarks import textbook as tb
from benchmarks.models import cifar_cnn, lenet5
from minicnn import manual_seed, nn

TOL = {"rtol": 1e-4, "atol": 1e-4}


def torch_twin(build, state: dict) -> torch.nn.Module:
    model = build(torch.nn)
    model.load_state_dict({key: torch.from_numpy(np.array(value)) for key, value in state.items()})
    return model


@pytest.mark.parametrize("shape", [(2, 3, 7, 7, 4, 3, 1, 1), (2, 2, 9, 8, 3, 3, 2, 1),
                                   (3, 2, 8, 8, 3, 5, 1, 2), (2, 3, 8, 9, 2, 3, 2, 0)])
def test_textbook_conv_matches_torch(shape):
    n, cin, h, w, cout, k, stride, pad = shape
    manual_seed(0)
    layer = tb.Conv2d(cin, cout, k, stride, pad)
    layer.load_state_dict(nn.Conv2d(cin, cout, k, stride, pad).state_dict())
    theirs = torch_twin(lambda lib: lib.Conv2d(cin, cout, k, stride, pad), layer.state_dict())
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, cin, h, w), dtype=np.float32)
    out = layer(x)
    grad = rng.standard_normal(out.shape, dtype=np.float32)
    grad_x = layer.backward(grad)

    x_torch = torch.from_numpy(x).requires_grad_(True)
    out_torch = theirs(x_torch)
    out_torch.backward(torch.from_numpy(grad))
    assert out.dtype == grad_x.dtype == layer.params["weight"].grad.dtype == np.float32
    np.testing.assert_allclose(out, out_torch.detach().numpy(), **TOL)
    np.testing.assert_allclose(grad_x, x_torch.grad.numpy(), **TOL)
    np.testing.assert_allclose(layer.params["weight"].grad, theirs.weight.grad.numpy(), **TOL)
    np.testing.assert_allclose(layer.params["bias"].grad, theirs.bias.grad.numpy(), **TOL)


@pytest.mark.parametrize("build, shape", [(lenet5, (8, 1, 28, 28)), (cifar_cnn, (4, 3, 32, 32))])
def test_textbook_training_steps_match_torch(build, shape):
    """Two steps (the second uses the momentum buffers): loss, gradients and weights agree.
    The CIFAR CNN runs in eval mode, where its Dropout is the identity in both engines."""
    manual_seed(0)
    ours = build(tb)
    ours.load_state_dict(build(nn).state_dict())
    theirs = torch_twin(build, ours.state_dict())
    if build is cifar_cnn:
        ours.eval(), theirs.eval()
    loss, loss_torch = tb.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    sgd = tb.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    sgd_torch = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(0)
    for _ in range(2):
        x, y = rng.random(shape, dtype=np.float32), rng.integers(0, 10, shape[0])
        value = loss(ours(x), y)
        ours.backward(loss.backward())
        sgd.step()
        sgd_torch.zero_grad()
        value_torch = loss_torch(theirs(torch.from_numpy(x)), torch.from_numpy(y))
        value_torch.backward()
        sgd_torch.step()
        assert value.dtype == np.float32
        np.testing.assert_allclose(value, value_torch.item(), **TOL)
        named = zip(ours.state_dict(), ours.parameters(), strict=True)
        for (name, p), p_torch in zip(named, theirs.parameters(), strict=True):
            assert p.data.dtype == p.grad.dtype == np.float32, name
            np.testing.assert_allclose(p.grad, p_torch.grad.numpy(), **TOL, err_msg=name)
            np.testing.assert_allclose(p.data, p_torch.detach().numpy(), **TOL, err_msg=name)


def test_textbook_dropout_scales_kept_units_and_masks_the_gradient():
    layer = tb.Dropout(0.25)
    x = np.ones((200, 50), np.float32)
    out = layer(x)
    assert out.dtype == np.float32
    assert set(np.unique(out)) <= {0.0, np.float32(1 / 0.75)}
    assert 0.2 < (out == 0).mean() < 0.3
    np.testing.assert_array_equal(layer.backward(x), out)
    layer.training = False
    assert layer(x) is x


def test_step_memory_runs_in_separate_processes():
    """A tiny LeNet-5 step in each library: positive MiB, and minicnn's process has no torch."""
    for library in ("minicnn", "torch"):
        result = memory.step_memory(library, "lenet5", (16, 1, 28, 28), threads=1)
        assert 0 < result["step_mib"] < 500, result
        assert result["retained_mib"] > -500
        assert result["torch_imported"] == (library == "torch")
    rows = [{"model": "LeNet-5 b16", "minicnn_mib": 2.0, "torch_mib": 1.0, "ratio": 2.0,
             "minicnn_retained_mib": 0.0, "torch_retained_mib": 0.0, "peak_reset": True}]
    assert "LeNet-5 b16" in memory.format_table(rows)


def test_startup_times_cold_and_warm_cache():
    times = compile_time.startup_times(calls=("conv",), import_runs=1)
    assert 0 < times["import_s"] < 30
    assert 0 < times["conv_warm_s"] < times["conv_cold_s"] < 300
    assert "cold cache" in compile_time.format_table(times)
