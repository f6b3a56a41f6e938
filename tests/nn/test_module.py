"""Module and Sequential: registration, PyTorch's names, state_dict, modes, grads, dtypes."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch_reference import assert_close, compare_with_torch

import minicnn as mc
from minicnn import nn


def small_net(lib, **options):
    return lib.Sequential(
        lib.Conv2d(1, 4, 3, **options), lib.ReLU(), lib.MaxPool2d(2),
        lib.Flatten(), lib.Dropout(0.5), lib.Linear(4 * 3 * 3, 5, **options),
    )


class TwoBranch(nn.Module):
    """A custom Module, the way users write one."""

    def __init__(self, lib=nn):
        super().__init__()
        self.conv = lib.Conv2d(2, 3, 3, bias=False)
        self.head = lib.Sequential(lib.Flatten(), lib.Linear(3 * 2 * 2, 2))

    def forward(self, x):
        return self.head(self.conv(x))

    def backward(self, grad_output):
        return self.conv.backward(self.head.backward(grad_output))


class TorchTwoBranch(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 3, 3, bias=False)
        self.head = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 2 * 2, 2))

    def forward(self, x):
        return self.head(self.conv(x))


def test_names_and_state_dict_keys_match_torch():
    ours, theirs = small_net(nn), small_net(torch.nn)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [type(m).__name__ for m in ours.modules()] == [
        type(m).__name__ for m in theirs.modules()
    ]
    assert len(list(ours.children())) == 6
    assert list(TwoBranch().state_dict()) == list(TorchTwoBranch().state_dict())


def test_custom_module_matches_torch():
    x = np.random.default_rng(0).standard_normal((2, 2, 4, 4)).astype(np.float32)
    compare_with_torch(TwoBranch(), TorchTwoBranch(), x)


def test_torch_state_dict_loads_unchanged_and_outputs_agree():
    theirs = small_net(torch.nn).eval()
    ours = small_net(nn).eval()
    result = ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    x = np.random.default_rng(0).random((3, 1, 8, 8)).astype(np.float32)
    expected = theirs(torch.from_numpy(x)).detach().numpy()
    assert_close(ours(x), expected, np.float32, "outputs with torch's weights")


def test_state_dict_returns_copies():
    model = small_net(nn)
    state = model.state_dict()
    state["0.weight"][...] = 0
    assert model[0].weight.data.any()


def test_load_state_dict_errors_list_every_problem():
    model = small_net(nn)
    state = model.state_dict()
    del state["0.bias"]
    state["9.weight"] = np.zeros(1, np.float32)
    state["5.weight"] = np.zeros((2, 2), np.float32)
    with pytest.raises(RuntimeError) as error:
        model.load_state_dict(state)
    message = str(error.value)
    assert 'Missing key(s) in state_dict: "0.bias"' in message
    assert 'Unexpected key(s) in state_dict: "9.weight"' in message
    assert "size mismatch for 5.weight" in message and "(2, 2)" in message and "(5, 36)" in message


def test_load_state_dict_non_strict():
    model = small_net(nn)
    state = {"0.weight": np.ones((4, 1, 3, 3)), "extra": np.ones(2)}
    result = model.load_state_dict(state, strict=False)
    assert result.unexpected_keys == ["extra"] and "0.bias" in result.missing_keys
    assert model[0].weight.dtype == np.float32 and (model[0].weight.data == 1).all()


def test_train_eval_propagate():
    model = small_net(nn)
    assert model.training and all(m.training for m in model.modules())
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_gradients_accumulate_like_torch_and_zero_grad():
    ours, theirs = small_net(nn).eval(), small_net(torch.nn).eval()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).random((2, 1, 8, 8)).astype(np.float32)
    grad = np.ones((2, 5), np.float32)
    for _ in range(2):
        ours(x)
        ours.backward(grad)
        theirs(torch.from_numpy(x)).backward(torch.from_numpy(grad))
    torch_grads = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        assert_close(param.grad, torch_grads[name].grad.numpy(), np.float32, name)
    ours.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in ours.parameters())
    ours.zero_grad()
    assert all(p.grad is None for p in ours.parameters())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept_through_forward_and_backward(dtype):
    model = small_net(nn, dtype=dtype)
    out = model(np.random.default_rng(0).random((2, 1, 8, 8)).astype(dtype))
    grad_x = model.backward(np.ones_like(out))
    assert out.dtype == grad_x.dtype == dtype
    assert all(p.data.dtype == p.grad.dtype == dtype for p in model.parameters())


def test_wrong_dtype_input_names_both_dtypes():
    with pytest.raises(TypeError, match="float64 does not match the layer's dtype float32"):
        small_net(nn)(np.zeros((1, 1, 8, 8)))


def test_backward_before_forward():
    with pytest.raises(RuntimeError, match="backward\\(\\) called before forward"):
        small_net(nn).backward(np.ones((1, 5), np.float32))


def test_repr_matches_torch():
    assert repr(small_net(nn)) == repr(small_net(torch.nn))
    assert repr(TwoBranch()) == repr(TorchTwoBranch()).replace("TorchTwoBranch", "TwoBranch")


def test_to_cpu_keeps_arrays_and_unknown_device_fails():
    model = small_net(nn)
    before = model[0].weight.data
    assert model.to("cpu") is model and model[0].weight.data is before
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        model.to("tpu")


# --- Sequential ------------------------------------------------------------------------------


def test_sequential_indexing_slicing_append():
    relu, linear = nn.ReLU(), nn.Linear(2, 2)
    model = nn.Sequential(relu, linear)
    assert model[0] is relu and model[-1] is linear and len(model) == 2
    assert list(model) == [relu, linear]
    tail = model[1:]
    assert isinstance(tail, nn.Sequential) and list(tail.state_dict()) == ["1.weight", "1.bias"]
    assert list(small_net(torch.nn)[4:].state_dict()) == list(small_net(nn)[4:].state_dict())
    model.append(nn.Tanh())
    assert len(model) == 3 and isinstance(model[2], nn.Tanh)
    with pytest.raises(IndexError, match="out of range"):
        model[3]


def test_sequential_from_ordered_dict():
    model = nn.Sequential(OrderedDict(conv=nn.Conv2d(1, 2, 3), act=nn.ReLU()))
    assert list(model.state_dict()) == ["conv.weight", "conv.bias"] and model.conv is model[0]


def test_sequential_rejects_non_modules():
    with pytest.raises(TypeError, match="expected a Module, got ufunc"):
        nn.Sequential(np.tanh)


def test_parameter_repr_and_module_attribute_errors():
    layer = nn.Linear(2, 3)
    assert "shape=(3, 2)" in repr(layer.weight)
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        layer.missing  # noqa: B018


def test_manual_seed_validates():
    with pytest.raises(TypeError, match="int seed"):
        mc.manual_seed(1.5)
    mc.manual_seed(5)
    assert mc.initial_seed() == 5
