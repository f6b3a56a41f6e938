"""Sequential against torch.nn.Sequential: indexing, slicing, construction, forward/backward."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch_reference import DTYPES, compare_with_torch, torch_dtype

import minicnn as mc
from minicnn import nn


def stack(lib):
    return lib.Sequential(lib.Linear(3, 4), lib.ReLU(), lib.Linear(4, 4), lib.Tanh(),
                          lib.Linear(4, 2), lib.Softmax(dim=-1))


def keys(model):
    return list(model._modules)


@pytest.mark.parametrize("index", [0, 1, 5, -1, -2, -6, np.int64(2)], ids=str)
def test_integer_indexing_matches_torch(index):
    ours, theirs = stack(nn), stack(torch.nn)
    assert type(ours[index]).__name__ == type(theirs[int(index)]).__name__
    assert ours[index] is list(ours)[int(index)]


@pytest.mark.parametrize("index", [6, -7, 100])
def test_index_out_of_range(index):
    with pytest.raises(IndexError, match=rf"Sequential: index {index} is out of range for 6 "):
        stack(nn)[index]
    with pytest.raises(IndexError):
        stack(torch.nn)[index]


@pytest.mark.parametrize("index", ["0", 1.0, None, True])
def test_non_integer_index(index):
    with pytest.raises(TypeError, match="Sequential: index must be an int or a slice, got "):
        stack(nn)[index]


@pytest.mark.parametrize(
    "index", [slice(1, None), slice(None, 2), slice(-2, None), slice(None, None, 2),
              slice(1, 5, 3), slice(4, 1), slice(None, None, -1)], ids=str,
)
def test_slicing_keeps_the_original_keys_as_torch(index):
    ours, theirs = stack(nn), stack(torch.nn)
    part, torch_part = ours[index], theirs[index]
    assert isinstance(part, nn.Sequential)
    assert keys(part) == keys(torch_part)
    assert list(part.state_dict()) == list(torch_part.state_dict())
    assert all(a is b for a, b in zip(part, list(ours)[index], strict=True))  # the same layers
    assert repr(part) == repr(torch_part)


def test_len_iteration_and_children():
    ours, theirs = stack(nn), stack(torch.nn)
    assert len(ours) == len(theirs) == 6
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    assert list(ours) == list(ours.children())
    assert len(nn.Sequential()) == 0 and list(nn.Sequential()) == []


def test_append_matches_torch():
    ours, theirs = stack(nn), stack(torch.nn)
    tanh = nn.Tanh()
    assert ours.append(tanh) is ours
    theirs.append(torch.nn.Tanh())
    assert len(ours) == 7 and ours[-1] is tanh and ours[6] is tanh
    assert keys(ours) == keys(theirs) and repr(ours) == repr(theirs)
    ours.append(nn.Linear(2, 3))
    theirs.append(torch.nn.Linear(2, 3))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    with pytest.raises(TypeError, match="Sequential: expected a Module, got function"):
        ours.append(lambda x: x)
    assert len(ours) == 8


def test_ordered_dict_construction_matches_torch():
    def build(lib):
        return lib.Sequential(OrderedDict(
            [("fc1", lib.Linear(3, 4)), ("act", lib.ReLU()), ("fc2", lib.Linear(4, 2))]
        ))

    ours, theirs = build(nn), build(torch.nn)
    assert keys(ours) == keys(theirs) == ["fc1", "act", "fc2"]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.fc1 is ours[0] and ours.fc2 is ours[-1]
    assert repr(ours) == repr(theirs)
    assert keys(ours[1:]) == keys(theirs[1:]) == ["act", "fc2"]
    compare_with_torch(ours, theirs, np.random.default_rng(0).random((5, 3)).astype(np.float32))


@pytest.mark.parametrize("bad", [np.tanh, 3, "relu", None, torch.nn.ReLU()], ids=repr)
def test_non_modules_are_refused(bad):
    name = type(bad).__name__
    with pytest.raises(TypeError, match=f"Sequential: expected a Module, got {name}"):
        nn.Sequential(nn.ReLU(), bad)
    with pytest.raises(TypeError, match=f"Sequential: expected a Module, got {name}"):
        nn.Sequential(OrderedDict(a=nn.ReLU(), b=bad))


def test_empty_sequential_is_the_identity_as_torch():
    x = np.random.default_rng(0).standard_normal((2, 3))
    compare_with_torch(nn.Sequential(), torch.nn.Sequential(), x)


LAYERS = {
    "Linear": lambda lib, n, d: lib.Linear(n, n, dtype=d),
    "Linear-no-bias": lambda lib, n, d: lib.Linear(n, n, bias=False, dtype=d),
    "ReLU": lambda lib, n, d: lib.ReLU(),
    "Sigmoid": lambda lib, n, d: lib.Sigmoid(),
    "Tanh": lambda lib, n, d: lib.Tanh(),
    "Softmax": lambda lib, n, d: lib.Softmax(dim=-1),
    "LogSoftmax": lambda lib, n, d: lib.LogSoftmax(dim=1),
    "Dropout": lambda lib, n, d: lib.Dropout(0.5),  # eval mode below: the identity
    "Flatten": lambda lib, n, d: lib.Flatten(0, 0),
    "Sequential": lambda lib, n, d: lib.Sequential(lib.Linear(n, n, dtype=d), lib.Tanh()),
}


@given(
    names=st.lists(st.sampled_from(sorted(LAYERS)), min_size=1, max_size=6),
    width=st.integers(1, 5), batch=st.integers(1, 4), seed=st.integers(0, 2**16),
)
@DTYPES
def test_stack_forward_backward_matches_torch(names, width, batch, seed, dtype):
    mc.manual_seed(seed)
    ours = nn.Sequential(*(LAYERS[n](nn, width, np.dtype(dtype)) for n in names)).eval()
    theirs = torch.nn.Sequential(
        *(LAYERS[n](torch.nn, width, torch_dtype(dtype)) for n in names)
    ).eval()
    x = np.random.default_rng(seed).standard_normal((batch, width)).astype(dtype)
    compare_with_torch(ours, theirs, x, seed=seed)


def test_stack_gradcheck():
    model = nn.Sequential(nn.Linear(3, 4, dtype=np.float64), nn.Tanh(),
                          nn.Linear(4, 2, dtype=np.float64), nn.LogSoftmax(dim=1))
    assert mc.gradcheck(model, np.random.default_rng(3).standard_normal((2, 3)))


def test_backward_runs_in_reverse_and_checks_the_last_layer():
    model = stack(nn)
    with pytest.raises(RuntimeError, match=r"Softmax\(dim=-1\): backward\(\) called before"):
        model.backward(np.ones((1, 2), np.float32))
    model(np.ones((5, 3), np.float32))
    with pytest.raises(ValueError, match=r"Softmax\(dim=-1\).*shape \(5, 2\), got \(5, 3\)"):
        model.backward(np.ones((5, 3), np.float32))


def test_one_instance_at_two_positions_is_refused():
    """Its second forward would overwrite the data the first use's backward needs."""
    relu = nn.ReLU()
    with pytest.raises(ValueError, match=r"ReLU\(\) at position 2 is the instance already at "
                                         r"position 0"):
        nn.Sequential(relu, nn.Linear(2, 2), relu)
    model = nn.Sequential(relu)
    with pytest.raises(ValueError, match="its own instance"):
        model.append(relu)


def test_trace_prints_shapes_forward_and_gradient_norms_backward(capsys):
    import io
    import re

    model = nn.Sequential(nn.Conv2d(1, 2, 3, dtype=np.float64), nn.ReLU(), nn.Flatten(),
                          nn.Linear(2 * 4 * 4, 3, dtype=np.float64))
    x = np.random.default_rng(0).standard_normal((2, 1, 6, 6))
    grad = np.random.default_rng(1).standard_normal((2, 3))
    stream = io.StringIO()
    with model.trace(stream):
        out = model(x)
        grad_x = model.backward(grad)
    lines = stream.getvalue().splitlines()
    assert lines[:4] == [
        "forward    0 Conv2d            (2, 1, 6, 6) -> (2, 2, 4, 4)",
        "forward    1 ReLU              (2, 2, 4, 4) -> (2, 2, 4, 4)",
        "forward    2 Flatten           (2, 2, 4, 4) -> (2, 32)",
        "forward    3 Linear            (2, 32) -> (2, 3)",
    ]
    assert [line.split()[1] for line in lines[4:]] == ["3", "2", "1", "0"]
    norms = [float(v) for v in re.findall(r"\|grad_(?:out|in)\| ([\d.e+-]+)", lines[4])]
    assert norms == pytest.approx([np.linalg.norm(grad), np.linalg.norm(model[3].backward(grad))],
                                  rel=1e-3)
    assert float(re.search(r"\|grad_in\| ([\d.e+-]+)", lines[7]).group(1)) == pytest.approx(
        np.linalg.norm(grad_x), rel=1e-3)
    assert "|dweight|" in lines[7] and "|dbias|" in lines[7]
    model(x)  # outside the block: silent
    model.backward(np.ones_like(out))
    assert stream.getvalue().count("\n") == 8 and capsys.readouterr().out == ""
    with model.trace():  # stdout by default
        model(x)
    assert capsys.readouterr().out.count("forward") == 4


@pytest.mark.parametrize("first", ["conv", "linear", "relu then conv", "nested"])
def test_backward_without_the_input_gradient_gives_the_same_parameter_gradients(first):
    """input_grad=False returns None and skips d loss / d input, as PyTorch does for an input
    that does not require a gradient; every parameter gradient is the full backward's."""
    def build():
        mc.manual_seed(0)
        head = {"conv": [nn.Conv2d(2, 3, 3, padding=1, dtype=np.float64)],
                "linear": [nn.Flatten(), nn.Linear(2 * 5 * 5, 75, dtype=np.float64)],
                "relu then conv": [nn.ReLU(), nn.Conv2d(2, 3, 3, padding=1, dtype=np.float64)],
                "nested": [nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, dtype=np.float64),
                                         nn.Tanh())]}[first]
        tail = [nn.Flatten(), nn.Linear(75, 4, dtype=np.float64)]
        if first == "linear":
            tail = [nn.Tanh(), nn.Linear(75, 4, dtype=np.float64)]
        return nn.Sequential(*head, *tail)

    x = np.random.default_rng(0).standard_normal((3, 2, 5, 5))
    grad = np.random.default_rng(1).standard_normal((3, 4))
    full, partial = build(), build()
    full(x)
    assert full.backward(grad) is not None
    partial(x)
    assert partial.backward(grad, input_grad=False) is None
    for (name, want), (_, got) in zip(full.named_parameters(), partial.named_parameters(),
                                      strict=True):
        np.testing.assert_allclose(got.grad, want.grad, rtol=1e-12, err_msg=name)


def test_conv2d_parameter_backward_runs_no_col2im(monkeypatch):
    from minicnn.functional import conv as conv_functional

    layer = nn.Conv2d(2, 3, 3, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((2, 2, 6, 6))
    layer(x)
    calls = []
    monkeypatch.setattr(conv_functional, "kernels",
                        lambda a: calls.append(1) or pytest.fail("col2im called"))
    layer.parameter_backward(np.ones((2, 3, 4, 4)))  # columns kept from forward: no kernels
    assert layer.weight.grad is not None and not calls
