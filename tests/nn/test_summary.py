"""summary: LeNet-5's table against hand-computed shapes and torch's parameter counts, and a
summary leaves the model as it was."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import minicnn as mc
from minicnn import nn
from minicnn import random as mc_random
from minicnn.nn.summary import summary


def lenet(lib, **options):
    """The model of API.md, in minicnn (lib=nn) or PyTorch (lib=torch.nn)."""
    return lib.Sequential(
        lib.Conv2d(1, 6, 5, padding=2, **options), lib.ReLU(), lib.MaxPool2d(2),
        lib.Conv2d(6, 16, 5, **options), lib.ReLU(), lib.MaxPool2d(2),
        lib.Flatten(), lib.Linear(16 * 5 * 5, 120, **options), lib.ReLU(),
        lib.Dropout(0.5), lib.Linear(120, 10, **options),
    )


LENET_ROWS = [
    ("0 (Conv2d)", "(None, 6, 28, 28)", 156),
    ("1 (ReLU)", "(None, 6, 28, 28)", 0),
    ("2 (MaxPool2d)", "(None, 6, 14, 14)", 0),
    ("3 (Conv2d)", "(None, 16, 10, 10)", 2416),
    ("4 (ReLU)", "(None, 16, 10, 10)", 0),
    ("5 (MaxPool2d)", "(None, 16, 5, 5)", 0),
    ("6 (Flatten)", "(None, 400)", 0),
    ("7 (Linear)", "(None, 120)", 48120),
    ("8 (ReLU)", "(None, 120)", 0),
    ("9 (Dropout)", "(None, 120)", 0),
    ("10 (Linear)", "(None, 10)", 1210),
]


def parse(table: str):
    """(title, rows as (name, shape, count), totals as {label: count}) of a summary table."""
    lines = table.splitlines()
    rules = [i for i, line in enumerate(lines) if line and set(line) == {"="}]
    assert len(rules) == 2, table
    rows = []
    for line in lines[rules[0] + 1: rules[1]]:
        name, shape, count = re.split(r"\s{2,}", line.strip())
        rows.append((name, shape, int(count.replace(",", ""))))
    totals = {
        label: int(count.replace(",", ""))
        for label, count in re.findall(r"^(\w[\w-]* params): ([\d,]+)", table, re.MULTILINE)
    }
    return lines[0], rows, totals


def test_lenet_table():
    model = lenet(nn)
    title, rows, totals = parse(summary(model, (1, 28, 28)))
    assert title == "Model: Sequential, input (None, 1, 28, 28) float32"
    assert rows == LENET_ROWS
    expected = sum(param.data.size for param in model.parameters())
    assert totals == {"Total params": expected, "Trainable params": expected} == {
        "Total params": 51902, "Trainable params": 51902
    }


def test_lenet_counts_match_torch():
    ours, theirs = lenet(nn), lenet(torch.nn)
    _, rows, totals = parse(ours.summary((1, 28, 28)))
    assert [count for _, _, count in rows] == [
        sum(p.numel() for p in child.parameters()) for child in theirs
    ]
    assert totals["Total params"] == sum(p.numel() for p in theirs.parameters())
    shapes = []
    x = torch.zeros(1, 1, 28, 28)
    for child in theirs:
        x = child(x)
        shapes.append("(None, " + ", ".join(map(str, x.shape[1:])) + ")")
    assert [shape for _, shape, _ in rows] == shapes


def test_sizes_in_bytes_follow_the_dtype():
    table = summary(lenet(nn, dtype=np.float64), (1, 28, 28))
    assert "input (None, 1, 28, 28) float64" in table
    assert "Total params: 51,902 (405.48 KB)" in table  # 51902 * 8 / 1024
    assert "Total params: 51,902 (202.74 KB)" in summary(lenet(nn), (1, 28, 28))


def test_a_leading_none_is_the_batch():
    model = lenet(nn)
    assert summary(model, (None, 1, 28, 28)) == summary(model, [1, 28, 28])


def test_nested_sequentials_expand_with_dotted_names():
    model = nn.Sequential(nn.Flatten(), nn.Sequential(nn.Linear(12, 4), nn.Sequential(nn.Tanh())))
    _, rows, totals = parse(model.summary((3, 4)))
    assert rows == [("0 (Flatten)", "(None, 12)", 0), ("1.0 (Linear)", "(None, 4)", 52),
                    ("1.1.0 (Tanh)", "(None, 4)", 0)]
    assert totals["Total params"] == 52


def test_a_single_layer_is_one_row():
    title, rows, _ = parse(nn.Conv2d(3, 8, 3, bias=False).summary((3, 10, 10)))
    assert title.startswith("Model: Conv2d,")
    assert rows == [("Conv2d", "(None, 8, 8, 8)", 216)]


def test_tuple_outputs_show_every_shape():
    _, rows, _ = parse(nn.MaxPool2d(2, return_indices=True).summary((2, 4, 4)))
    assert rows == [("MaxPool2d", "(None, 2, 2, 2), (None, 2, 2, 2)", 0)]


def test_a_shared_parameter_counts_once_in_the_total():
    first, second = nn.Linear(4, 4), nn.Linear(4, 4)
    second.weight = first.weight
    _, rows, totals = parse(nn.Sequential(first, second).summary((4,)))
    assert [count for _, _, count in rows] == [20, 20]
    assert totals["Total params"] == 24


@given(widths=st.lists(st.integers(1, 9), min_size=2, max_size=5))
def test_linear_stacks_count_like_torch(widths):
    layers = [nn.Linear(a, b) for a, b in zip(widths, widths[1:], strict=False)]
    theirs = [torch.nn.Linear(a, b) for a, b in zip(widths, widths[1:], strict=False)]
    _, rows, totals = parse(nn.Sequential(*layers).summary((widths[0],)))
    assert [(shape, count) for _, shape, count in rows] == [
        (f"(None, {layer.out_features})", sum(p.numel() for p in layer.parameters()))
        for layer in theirs
    ]
    assert totals["Total params"] == sum(p.numel() for layer in theirs for p in layer.parameters())


def test_the_model_is_left_as_it_was():
    mc.manual_seed(0)
    model = lenet(nn, dtype=np.float64)
    model[9].eval()
    modes = [module.training for module in model.modules()]
    x = np.random.default_rng(0).random((2, 1, 28, 28))
    out = model(x)
    state = mc_random.get_state()
    model.summary((1, 28, 28))
    assert [module.training for module in model.modules()] == modes
    assert mc_random.get_state() == state  # eval mode: Dropout drew nothing
    grad = model.backward(np.ones_like(out))  # the pending backward still sees x's forward
    reference = lenet(nn, dtype=np.float64)
    reference.load_state_dict(model.state_dict())
    reference[9].eval()
    reference(x)
    np.testing.assert_array_equal(grad, reference.backward(np.ones_like(out)))


def test_summary_returns_and_prints_nothing(capsys):
    table = nn.ReLU().summary((3,))
    assert isinstance(table, str) and "ReLU" in table
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("shape", [28, (0, 28), (1.0, 28), ("a",), (None, None, 3), (True,)])
def test_bad_input_shapes_are_refused(shape):
    with pytest.raises(TypeError, match="summary: input_shape must be a tuple of positive ints"):
        summary(nn.ReLU(), shape)


def test_other_errors():
    with pytest.raises(TypeError, match="summary: expected a minicnn Module"):
        summary(torch.nn.ReLU(), (3,))
    with pytest.raises(TypeError, match="summary: dtype must be float32 or float64"):
        summary(nn.ReLU(), (3,), dtype=np.int64)
    with pytest.raises(ValueError, match="expected input with 1 channels"):
        summary(lenet(nn), (3, 28, 28))
