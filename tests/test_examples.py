"""The README's example and examples/ run, and training lowers the loss."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_example_runs_and_learns(capsys):
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"## Ten lines\n\n```python\n(.*?)```", readme, re.S).group(1)
    exec(compile(code, "README.md", "exec"), {})
    losses = [float(line.split()[1]) for line in capsys.readouterr().out.splitlines()]
    assert len(losses) == 20 and losses[-1] < losses[0]


def test_readme_training_example_runs(tmp_path, monkeypatch, capsys):
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"## Training with callbacks\n\n```python\n(.*?)```", readme, re.S).group(1)
    assert "epochs=30" in code
    monkeypatch.chdir(tmp_path)
    exec(compile(code.replace("epochs=30", "epochs=2"), "README.md", "exec"), {})
    assert len(list((tmp_path / "runs").glob("*.npz"))) >= 1
    assert "val_accuracy" not in capsys.readouterr().err


PNG = b"\x89PNG\r\n\x1a\n"


def test_train_lenet_example_lowers_the_loss(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "train_lenet.py"), "--epochs", "2",
         "--train-size", "256", "--plot", str(tmp_path / "curves.png")],
        capture_output=True, text=True, check=True,
    )
    assert (tmp_path / "curves.png").read_bytes().startswith(PNG)
    rows = [line.split() for line in result.stdout.splitlines() if re.match(r"\s+\d+\s", line)]
    train_losses = [float(row[1]) for row in rows]
    assert len(train_losses) == 2 and train_losses[1] < train_losses[0]


def test_imbalanced_losses_example_prints_a_recall_per_digit_and_loss(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "imbalanced_losses.py"), "--fast",
         "--plot", str(tmp_path / "recalls.png")],
        capture_output=True, text=True, check=True,
    )
    assert (tmp_path / "recalls.png").read_bytes().startswith(PNG)
    table = result.stdout.splitlines()
    rows = [line.split() for line in table if re.match(r"\s+\d\s+\d+\s", line)]
    assert [int(row[0]) for row in rows] == list(range(10))
    counts = [int(row[1]) for row in rows]
    assert counts == sorted(counts, reverse=True) and counts[0] > 10 * counts[-1]  # long tail
    recalls = [float(value.rstrip("%")) for row in rows for value in row[2:]]
    assert len(recalls) == 30 and all(0 <= value <= 100 for value in recalls)
    summary = {line.split()[0]: [float(v.rstrip("%")) for v in line.split()[-3:]]
               for line in table if line.strip().startswith(("all", "3 rarest"))}
    assert all(recall > 20 for recall in summary["all"])  # every loss learns (chance: 10%)
    plain, balanced, _ = summary["3"]
    assert balanced > plain  # what class-balanced weights are for


def test_optimizers_example_prints_a_loss_column_per_optimizer(tmp_path):
    plot = tmp_path / "curves.png"
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "optimizers.py"), "--fast", "--plot", str(plot)],
        capture_output=True, text=True, check=True,
    )
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("epoch"))
    assert all(name in header for name in ("full-batch", "batch 1", "momentum", "AdaGrad",
                                           "RMSProp", "Adam"))
    rows = [[float(v) for v in line.split()] for line in lines if re.match(r"\s+\d\s", line)]
    assert [row[0] for row in rows] == [0, 1, 2] and all(len(row) == 8 for row in rows)
    assert len(set(rows[0][1:])) == 1  # the same initial weights for every optimizer
    assert all(after < rows[0][1] for after in rows[-1][2:])  # all but full-batch GD learn
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "install matplotlib" in result.stdout and not plot.exists()
    else:
        assert plot.stat().st_size > 0


def test_the_readme_indexes_every_example():
    readme = (ROOT / "README.md").read_text()
    learn = re.search(r"## Learn with minicnn\n(.*?)\n## ", readme, re.S).group(1)
    listed = set(re.findall(r"`examples/(\w+\.py)`", learn))
    assert listed == {path.name for path in (ROOT / "examples").glob("*.py")}
