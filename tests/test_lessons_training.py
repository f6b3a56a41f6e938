"""The training lessons in examples/ run in --fast mode and print facts that hold when recomputed
here: feature maps, losses, epochs and batch size, callbacks."""

from __future__ import annotations

import importlib.util
import math
import re
from pathlib import Path

import numpy as np
import pytest

import minicnn as mc
from minicnn.data import Digits

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load_example(name: str):
    """examples/<name>.py as a module (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"lesson_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_example(name: str, args: list, tmp_path: Path, capsys) -> str:
    """Run the example's main in-process with --fast and --plot; check the plot; return the
    printed text."""
    plot = tmp_path / f"{name}.png"
    load_example(name).main([*args, "--fast", "--plot", str(plot)])
    out = capsys.readouterr().out
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "install matplotlib" in out and not plot.exists()
    else:
        assert f"plot saved to {plot}" in out
        assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return out


def numbers(line: str) -> list[float]:
    return [float(value) for value in re.findall(r"-?\d+\.?\d*(?:e[-+]?\d+)?", line)]


def table_rows(out: str, first_word: str) -> list[str]:
    return [line for line in out.splitlines() if line.split()[:1] == [first_word]]


def correlate3x3(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """What Conv2d(padding=1) computes for one 3x3 filter: a cross-correlation over the image
    padded with zeros, written with plain NumPy."""
    padded = np.pad(image.astype(np.float64), 1)
    height, width = image.shape
    return sum(kernel[i, j] * padded[i : i + height, j : j + width]
               for i in range(3) for j in range(3))


def test_feature_maps(tmp_path, capsys):
    out = run_example("feature_maps", ["--digit", "4"], tmp_path, capsys)
    # each edge filter finds much more in the bar of its own direction
    vertical_bar = numbers(next(line for line in out.splitlines()
                                if line.strip().startswith("vertical bar")))
    horizontal_bar = numbers(next(line for line in out.splitlines()
                                  if line.strip().startswith("horizontal bar")))
    assert vertical_bar[0] > 3 * vertical_bar[1] and horizontal_bar[1] > 3 * horizontal_bar[0]
    assert vertical_bar[2] == horizontal_bar[2] == 80.0  # blur keeps the ink: 4 x 20 pixels

    # the hand-made maps of the digit, recomputed with NumPy
    index, label = map(int, re.search(r"test digit #(\d+) \(a (\d)\)", out).groups())
    x_test, y_test = Digits(train=False).arrays()
    assert label == 4 == y_test[index] and index == np.flatnonzero(y_test == 4)[0]
    sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)
    for name, kernel in (("vertical edge", sobel), ("horizontal edge", sobel.T),
                         ("blur", np.full((3, 3), 1 / 9))):
        line = next(line for line in out.splitlines() if re.match(rf"\s*{name}\s+-?\d", line))
        low, high, mean_abs, high_row, high_col = numbers(line.replace(name, ""))[:5]
        response = correlate3x3(x_test[index, 0], kernel)
        assert low == pytest.approx(response.min(), abs=1e-3)
        assert high == pytest.approx(response.max(), abs=1e-3)
        assert mean_abs == pytest.approx(np.abs(response).mean(), abs=1e-4)
        assert response[int(high_row), int(high_col)] == pytest.approx(response.max(), abs=1e-5)

    # the trained CNN learns something, and its eight ReLU maps are non-negative
    accuracy = float(re.search(r"test accuracy ([\d.]+)%", out).group(1))
    assert accuracy > 50  # chance: 10%
    maps = [numbers(line) for line in out.splitlines() if re.match(r"\s+[0-7]\s+\d\.\d{4}\s", line)]
    assert [int(row[0]) for row in maps] == list(range(8))
    for _, mean, peak, active, *_ in maps:
        assert 0 <= mean <= peak and 0 <= active <= 100


def test_losses(tmp_path, capsys):
    out = run_example("losses", [], tmp_path, capsys)
    names = ("very easy", "easy", "unsure", "hard", "very hard")
    lines = out.splitlines()
    binary_start = next(i for i, line in enumerate(lines) if line.startswith("1."))
    multi_start = next(i for i, line in enumerate(lines) if line.startswith("2."))

    def rows(start):
        found = {}
        for line in lines[start:]:
            for name in names:
                if re.match(rf"\s*{name}\s+-?\d", line) and name not in found:
                    found[name] = numbers(line.replace(name, ""))
        return found

    binary = rows(binary_start)
    assert list(binary) == list(names)
    for z, p, bce, ce, grad_bce, grad_ce, on_p, grad_p, chain in binary.values():
        assert bce == ce == on_p  # BCE on z = CE on [0, z] = BCELoss on sigmoid(z)
        assert bce == pytest.approx(math.log1p(math.exp(-z)), abs=1e-6)
        assert p == pytest.approx(1 / (1 + math.exp(-z)), abs=1e-4)
        assert grad_bce == grad_ce == chain == pytest.approx(p - 1, abs=1e-4)  # dloss/dz = p - t
        assert grad_p == pytest.approx(-1 / p, rel=1e-3)
    gaps = re.search(r"max \|BCE - CE\| = (\S+), max \|dBCE/dz - dCE/dz\| = (\S+)", out).groups()
    assert all(float(gap.rstrip(",")) < 1e-12 for gap in gaps)

    multi = rows(multi_start)
    assert list(multi) == list(names)
    ratios = []
    for margin, p_t, ce, _, focal, _, ratio, weight in multi.values():
        expected_p_t = math.exp(margin) / (math.exp(margin) + 9)  # 10 classes
        assert p_t == pytest.approx(expected_p_t, abs=1e-4)
        assert ce == pytest.approx(-math.log(expected_p_t), abs=1e-5)
        assert focal < ce  # focal loss never exceeds cross-entropy
        assert ratio == pytest.approx((1 - expected_p_t) ** 2, abs=1e-5) and ratio == weight
        ratios.append(ratio)
    assert ratios == sorted(ratios) and ratios[1] < 0.01 < 0.5 < ratios[-1]  # easy fade, hard stay
    shares = re.search(r"make ([\d.]+)% of the summed \|grad\| with cross-entropy and ([\d.]+)%",
                       out).groups()
    assert float(shares[1]) > 2 * float(shares[0])
    assert re.search(r"FocalLoss\(gamma=0\) equals CrossEntropyLoss: max difference 0", out)


def test_epochs_and_batch_size(tmp_path, capsys):
    out = run_example("epochs_and_batch_size", [], tmp_path, capsys)
    n, epochs = map(int, re.search(r"(\d+) training images, (\d+) epochs", out).groups())
    assert (n, epochs) == (200, 2)
    speed = [numbers(line) for line in out.splitlines()
             if re.match(r"\s+\d+\s+\d+\s+\d+\s+\d+\s", line)]
    assert [int(row[0]) for row in speed] == [1, 16, 128, n]  # the last one: the full batch
    for batch, steps, expected, total, seconds, *_ in speed:
        assert steps == expected == math.ceil(n / batch)  # an epoch: every image once
        assert total == epochs * steps and seconds > 0
    assert speed[-1][1] == 1  # full-batch gradient descent: one step per epoch

    header = next(line for line in out.splitlines() if line.startswith("epoch"))
    assert header.split()[1:] == ["batch", "1", "batch", "16", "batch", "128", "full"]
    losses = [numbers(line) for line in out.splitlines() if re.match(r"\s+\d\s+\d+\.\d{4}\s", line)]
    assert [int(row[0]) for row in losses] == list(range(epochs + 1))
    assert len(set(losses[0][1:])) == 1  # the same initial weights for every batch size
    first, last = losses[0][1:], losses[-1][1:]
    assert all(after < before for after, before in zip(last, first, strict=True))
    assert last[0] < last[1] < last[3]  # with one lr: more steps per epoch, lower loss


def test_callbacks(tmp_path, capsys):
    out_dir = tmp_path / "checkpoints"
    out = run_example("callbacks", ["--out", str(out_dir)], tmp_path, capsys)
    stopped, max_epochs, patience, best_epoch = map(int, re.search(
        r"stopped after epoch (\d+) of at most (\d+), (\d+) epochs after the best one "
        r"\(epoch (\d+)", out).groups())
    assert stopped < max_epochs and stopped == best_epoch + patience

    rows = [line.split() for line in out.splitlines() if re.match(r"\s+\d+\s+\d+\.\d{4}\s", line)]
    assert [int(row[0]) for row in rows] == list(range(1, stopped + 1))
    val_losses = [float(row[2]) for row in rows]
    written = {int(row[0]): row[-1] for row in rows if row[-1].endswith(".npz")}
    # a checkpoint exactly in the epochs where val_loss reached a new minimum
    bests = {epoch for epoch in range(1, stopped + 1)
             if val_losses[epoch - 1] < min(val_losses[: epoch - 1], default=math.inf)}
    assert set(written) == bests and max(written) == best_epoch
    lrs = [float(row[4]) for row in rows]
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] < lrs[0]  # ReduceLROnPlateau acted

    files = sorted(out_dir.glob("*.npz"))
    assert [path.name for path in files] == sorted(written.values())
    best = out_dir / written[best_epoch]
    assert f"best checkpoint: {best.name} (epoch {best_epoch})" in out
    assert "restored weights equal the best checkpoint: True" in out
    model = mc.load(best)  # the file loads on its own
    assert mc.load_checkpoint(best)["epoch"] == best_epoch
    assert model.state_dict().keys() == load_example("callbacks").small_cnn().state_dict().keys()
    last, restored, loaded = map(float, re.search(
        r"val_loss: last epoch (\S+), restored model (\S+), checkpoint loaded into a new model "
        r"(\S+)", out).groups())
    assert restored == loaded == val_losses[best_epoch - 1] < last
