"""The lesson examples on the basic layers run, and what they print is true.

Each example's ``main(argv)`` runs in-process; the tests parse its output and recompute the
facts it claims (with numpy or with minicnn's layers), run each with ``--plot``, and run one
as a script.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minicnn import nn

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ["activations", "padding_and_stride", "pooling", "flatten_and_linear", "dropout"]
NUMBER = r"-?(?:\d+\.?\d*(?:e[-+]?\d+)?|inf|nan)"


def load(name: str):
    """Import examples/<name>.py as a module (examples/ is not a package)."""
    path = ROOT / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"lesson_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(name: str, capsys, *argv: str) -> list[str]:
    load(name).main(list(argv))
    return capsys.readouterr().out.splitlines()


def numbers(text: str) -> list[float]:
    return [float(value) for value in re.findall(NUMBER, text)]


def block(lines: list[str], header: str) -> np.ndarray:
    """The matrix printed under the first line that starts with ``header``."""
    start = next(i for i, line in enumerate(lines) if line.startswith(header)) + 1
    rows = []
    for line in lines[start:]:
        rows.append(numbers(line))
        if line.rstrip().endswith("]]"):
            return np.array(rows)
    raise AssertionError(f"no matrix under {header!r}")


def line_with(lines: list[str], text: str) -> str:
    return next(line for line in lines if text in line)


def test_activations_values_slopes_and_stable_softmax(capsys):
    lines = run("activations", capsys)
    rows = [numbers(line) for line in lines if re.match(r"\s+-?\d+\.\d \|", line)]
    x, relu, relu_slope, sig, sig_slope, tanh, tanh_slope = np.array(rows).T
    assert len(x) == 11 and x.min() <= -5 and x.max() >= 5
    assert np.allclose(relu, np.maximum(x, 0)) and np.array_equal(relu_slope, (x > 0) * 1.0)
    expected = 1 / (1 + np.exp(-x))
    assert np.allclose(sig, expected, atol=1e-4)
    assert np.allclose(sig_slope, expected * (1 - expected), rtol=1e-2)
    assert np.allclose(tanh, np.tanh(x), atol=1e-4)
    assert np.allclose(tanh_slope, 1 - np.tanh(x) ** 2, rtol=1e-2, atol=1e-10)
    # the vanishing gradient: ten sigmoids pass at most 0.25^10, ten active ReLUs pass 1
    stacked = [numbers(line) for line in lines if re.match(r"\s+\d\.\d\s+\d\.\d+e", line)]
    assert len(stacked) == 4
    assert all(row[1] <= 0.25**10 and row[3] == 1.0 for row in stacked)

    assert line_with(lines, "row sums").endswith("[1. 1. 1.]")
    assert "True" in line_with(lines, "exp(log_softmax) equals softmax")
    # logits [1000, 1001, 1002]: the naive forms give nan, minicnn's are finite and right
    start = lines.index(line_with(lines, "logits [1000."))
    naive, stable = numbers(lines[start + 1]), np.array(numbers(lines[start + 2]))
    assert lines[start + 1].split()[:2] == ["naive", "softmax"] and all(map(math.isnan, naive))
    z = np.array([0.0, 1.0, 2.0])
    assert np.allclose(stable, np.exp(z) / np.exp(z).sum(), atol=1e-4)
    naive_log, stable_log = numbers(lines[start + 3]), np.array(numbers(lines[start + 4]))
    assert all(map(math.isnan, naive_log)) and np.isfinite(stable_log).all()
    assert np.allclose(stable_log, z - np.log(np.exp(z).sum()), atol=1e-4)
    # logits [0, -1000]: log(softmax) as written gives -inf, LogSoftmax gives -1000
    start = lines.index(line_with(lines, "logits [    0. -1000.]"))
    assert numbers(lines[start + 3]) == [0.0, -math.inf]
    assert numbers(lines[start + 4]) == [0.0, -1000.0]


ROW = re.compile(r"in (\d+)x\d+ k=(\d+) s=(\d+) p=(\S+)\s+d=(\d+) \| (.*) = (\d+)\s+\| "
                 r"Conv2d: \((\d+), (\d+), (\d+), (\d+)\) -> \((\d+), (\d+), (\d+), (\d+)\)")


@pytest.mark.parametrize("size", [28, 11])
def test_padding_and_stride_table_matches_conv2d(capsys, size):
    lines = run("padding_and_stride", capsys, "--size", str(size))
    rows = [ROW.match(line) for line in lines if line.startswith("in ")]
    assert len(rows) >= 12 and all(rows)
    paddings = set()
    for row in rows:
        h, k, s, p, d, _, by_formula = (row.group(i) for i in range(1, 8))
        h, k, s, d, by_formula = int(h), int(k), int(s), int(d), int(by_formula)
        padding = p if p in ("same", "valid") else int(p)
        paddings.add(p)
        out = nn.Conv2d(3, 8, k, stride=s, padding=padding, dilation=d)(
            np.zeros((1, 3, h, h), dtype=np.float32))
        printed = tuple(int(row.group(i)) for i in range(12, 16))
        assert printed == out.shape and by_formula == out.shape[2] == out.shape[3]
        if p == "same":
            total = d * (k - 1)
        else:
            total = 0 if p == "valid" else 2 * padding
        assert by_formula == (h + total - d * (k - 1) - 1) // s + 1
    assert {"same", "valid", "0", "1"} <= paddings
    strides_dilations = {(int(row.group(3)), int(row.group(5))) for row in rows}
    assert {(2, 1), (3, 1), (1, 2)} <= strides_dilations

    same = [line for line in lines if re.match(r"\s+k=\d+ d=\d+: pads", line)]
    assert same and all(line.endswith(f"output {size}x{size}") for line in same)
    assert "ValueError" in line_with(lines, "stride 2 with 'same'")

    # the 5x5 example: each window sum matches minicnn's output, and the visit counts are right
    windows = [numbers(line.split(":", 1)[1]) for line in lines if line.startswith("  out[")]
    assert len(windows) == 9 and all(by_hand == ours for by_hand, ours in windows)
    padded = np.pad(np.arange(1, 26).reshape(5, 5), 1)
    sums = [padded[2 * i : 2 * i + 3, 2 * j : 2 * j + 3].sum() for i in range(3) for j in range(3)]
    assert [by_hand for by_hand, _ in windows] == sums
    visits = np.zeros((7, 7))
    for i in range(3):
        for j in range(3):
            visits[2 * i : 2 * i + 3, 2 * j : 2 * j + 3] += 1
    assert np.array_equal(block(lines, "how many windows"), visits[1:-1, 1:-1])


def test_pooling_outputs_routes_and_indices(capsys):
    lines = run("pooling", capsys)
    x = block(lines, "input (1, 1, 4, 4)")
    windows = x.reshape(2, 2, 2, 2).swapaxes(1, 2)  # [i, j] = the 2x2 window at (i, j)
    assert np.array_equal(block(lines, "MaxPool2d(2) (1, 1, 2, 2)"), windows.max(axis=(2, 3)))
    assert np.allclose(block(lines, "AvgPool2d(2) (1, 1, 2, 2)"), windows.mean(axis=(2, 3)))

    max_route = block(lines, "MaxPool2d(2) (1, 1, 4, 4)")  # backward(ones)
    expected = np.zeros((4, 4))
    for i in range(2):
        for j in range(2):
            r, c = np.unravel_index(windows[i, j].argmax(), (2, 2))
            expected[2 * i + r, 2 * j + c] = 1
    assert np.array_equal(max_route, expected)
    assert np.allclose(block(lines, "AvgPool2d(2) (1, 1, 4, 4)"), np.full((4, 4), 0.25))
    assert block(lines, "MaxPool2d(3, stride=1) (1, 1, 4, 4)").max() == 4  # wins all 4 windows
    sums = [numbers(line) for line in lines if "no gradient is lost" in line]
    assert sums and all(total == outputs for total, outputs in sums)

    found = [re.search(r"= (\S+) came from index (\d+) = (\d+)\*4 \+ (\d+): input\[\d+,\d+\] = "
                       r"(\S+)", line) for line in lines if "came from index" in line]
    assert len(found) == 4
    for match in found:
        value, index, h, w, source = (float(match.group(i)) for i in range(1, 6))
        assert index == 4 * h + w and x.flat[int(index)] == value == source

    adaptive = [line for line in lines if line.startswith("  input (1, 3,")]
    assert len(adaptive) >= 5
    assert all("-> (1, 3, 2, 2)" in line and "means: True" in line and
               "global: (1, 3, 1, 1)" in line for line in adaptive)


def test_flatten_and_linear_shapes_counts_and_gradients(capsys):
    lines = run("flatten_and_linear", capsys, "--batch", "3")
    assert re.match(r"\s+6 \(3, 400\)\s+Flatten", line_with(lines, "Flatten(start_dim"))
    assert "(3, 16, 5, 5) -> (3, 400)" in line_with(lines, "Flatten: ")
    counts = {int(m.group(1)): (int(m.group(2)), int(m.group(3)), int(m.group(4).replace(",", "")))
              for m in (re.match(r"\s+(\d+) (?:Linear|Conv2d)\s+(\d+)\s+.* = (\d+)\s+([\d,]+) "
                                 r"multiply-adds", line) for line in lines) if m}
    # index: (the layer as LeNet-5 has it, its output's size per image)
    layers = {0: (nn.Conv2d(1, 6, 5, padding=2), 6 * 28 * 28), 3: (nn.Conv2d(6, 16, 5), 16 * 100),
              7: (nn.Linear(400, 120), 120), 9: (nn.Linear(120, 84), 84),
              11: (nn.Linear(84, 10), 10)}
    assert set(counts) == set(layers)
    for index, (layer, outputs) in layers.items():
        ours, by_formula, macs = counts[index]
        assert ours == by_formula == sum(p.data.size for p in layer.parameters())
        assert macs == outputs * layer.weight.data[0].size  # one multiply-add per weight tap
    total = sum(ours for ours, _, _ in counts.values())
    assert f"total {total} parameters" in line_with(lines, "  total ")

    elements = [re.match(r"  feature_map\[(\d+), (\d+), (\d+), (\d+)\] = (\S+) = "
                         r"flat\[(\d+), (\d+)\] = (\S+)$", line)
                for line in lines if line.startswith("  feature_map")]
    assert len(elements) == 3 and all(elements)
    for match in elements:
        n, c, h, w, value, flat_n, column, flat_value = map(float, match.groups())
        assert (flat_n, column, flat_value) == (n, c * 25 + h * 5 + w, value)
    assert float(line_with(lines, "max |minicnn - numpy").split()[-1]) < 1e-10
    assert "(120, 400)  (the weight's shape (120, 400))" in line_with(lines, "grad of A")
    checks = [line for line in lines if "matches numpy" in line or "a reshape" in line]
    assert len(checks) == 4 and all("True" in line and "False" not in line for line in checks)


@pytest.mark.parametrize("p", [0.5, 0.3])
def test_dropout_fraction_scale_eval_and_mask(capsys, p):
    lines = run("dropout", capsys, "--p", str(p), "--size", "500")
    rows = {row[0]: row[1:] for row in
            (numbers(line) for line in lines if re.match(r"\s+\d\.\d\d\s", line))}
    assert p in rows and {0.1, 0.9} <= set(rows)
    for drop, (zeros, survivor, scale, mean) in rows.items():
        assert abs(zeros - drop) < 0.01  # 250,000 draws: the standard deviation is < 0.001
        assert survivor == scale == pytest.approx(1 / (1 - drop), abs=1e-4)
        assert mean == pytest.approx(1.0, abs=0.02)
    small = block(lines, "dropout(x)")
    kept = small != 0
    assert np.allclose(small[kept], (np.arange(1, 13).reshape(2, 6) / (1 - p))[kept], atol=1e-3)
    assert "output equals input: True, zeros: 0" in line_with(lines, "eval mode")
    assert "same mask: True" in line_with(lines, "twice gives the same mask")
    assert line_with(lines, "backward uses the forward's mask").count("True") == 2


@pytest.mark.parametrize("name", EXAMPLES)
def test_plot_is_written(capsys, tmp_path, name):
    pytest.importorskip("matplotlib")
    path = tmp_path / "x.png"
    lines = run(name, capsys, "--plot", str(path))
    assert lines[-1] == f"plot saved to {path}"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_prints_a_hint(capsys, tmp_path, monkeypatch):
    for module in ("matplotlib", "matplotlib.figure", "matplotlib.patches"):
        monkeypatch.setitem(sys.modules, module, None)  # makes the import fail
    path = tmp_path / "x.png"
    lines = run("pooling", capsys, "--plot", str(path))
    assert "install matplotlib" in lines[-1] and not path.exists()


def test_an_example_runs_as_a_script():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "dropout.py"), "--size", "100"],
        capture_output=True, text=True, check=True, env=env, timeout=120,
    )
    assert "training mode on 10,000 ones" in result.stdout
