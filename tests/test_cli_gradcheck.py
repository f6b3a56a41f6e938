"""`minicnn gradcheck LAYER`: passes on every layer and loss, with options, and fails (exit 1,
'FAILED') on a layer whose backward was broken on purpose."""

from __future__ import annotations

import subprocess
import sys

import pytest

from minicnn import functional as F
from minicnn.cli import main
from minicnn.cli_gradcheck import LAYERS


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_every_layer_and_loss_passes(layer, capsys):
    assert main(["gradcheck", layer]) == 0
    output = capsys.readouterr().out
    assert "on an input of shape" in output and "gradcheck passed" in output


@pytest.mark.parametrize("argv", [
    ["conv2d", "--stride", "2", "--padding", "1", "--dilation", "2", "--size", "9", "7"],
    ["conv2d", "--padding", "same", "--kernel-size", "4", "--padding-mode", "reflect"],
    ["conv2d", "--groups", "2", "--in-channels", "4", "--out-channels", "2", "--no-bias"],
    ["maxpool2d", "--kernel-size", "3", "--stride", "2", "--padding", "1", "--ceil-mode"],
    ["avgpool2d", "--kernel-size", "2"],
    ["lppool2d", "--norm-type", "3"],
    ["adaptiveavgpool2d", "--output-size", "4", "--size", "7", "5"],
    ["crossentropy", "--label-smoothing", "0.2", "--reduction", "sum"],
    ["focal", "--gamma", "0.5", "--reduction", "none"],
    ["dropout", "--p", "0.3"],
])
def test_options_reach_the_layer(argv, capsys):
    assert main(["gradcheck", *argv]) == 0
    output = capsys.readouterr().out
    assert "gradcheck passed" in output
    if "--stride" in argv:
        assert "stride=(2, 2)" in output or "stride=2" in output


def test_a_planted_wrong_backward_fails(monkeypatch, capsys):
    right = F.conv2d_backward

    def wrong(grad_out, cache, *options):
        grad_x, grad_weight, grad_bias = right(grad_out, cache, *options)
        return grad_x * 1.01, grad_weight, grad_bias  # 1% off: a bug a learner might write

    monkeypatch.setattr(F, "conv2d_backward", wrong)
    assert main(["gradcheck", "conv2d"]) == 1
    assert "gradcheck FAILED" in capsys.readouterr().out


def test_bad_options_say_what_is_wrong():
    with pytest.raises(SystemExit, match=r"minicnn gradcheck: .*padding='same'"):
        main(["gradcheck", "conv2d", "--stride", "2", "--padding", "same"])


def test_the_command_runs_as_a_program():
    result = subprocess.run([sys.executable, "-m", "minicnn", "gradcheck", "relu"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "gradcheck passed" in result.stdout
