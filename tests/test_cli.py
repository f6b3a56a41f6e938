"""The `minicnn train` main job on the embedded digits, for one short epoch, and resuming."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from minicnn.cli import main


def accuracy_in(output: str) -> float:
    return float(re.search(r"test accuracy: ([\d.]+)%", output).group(1))


def test_train_one_epoch_on_the_embedded_digits(capsys):
    main(["train", "--epochs", "1", "--verbose", "2"])
    output = capsys.readouterr().out
    assert "Digits: 8000 training and 2000 test images" in output
    assert re.search(r"Epoch 1/1 - [\d.]+s - loss: [\d.]+ - accuracy: [\d.]+ - val_loss", output)
    assert accuracy_in(output) > 85  # one epoch of LeNet-5 on 8000 digits


def test_a_checkpoint_is_saved_every_epoch_and_resumed(tmp_path, capsys):
    checkpoint = tmp_path / "run" / "lenet.npz"
    main(["train", "--epochs", "1", "--verbose", "0", "--checkpoint", str(checkpoint),
          "--optimizer", "sgd", "--batch-size", "64"])
    assert checkpoint.is_file()
    capsys.readouterr()
    main(["train", "--epochs", "2", "--verbose", "2", "--checkpoint", str(checkpoint),
          "--optimizer", "sgd", "--batch-size", "64"])
    output = capsys.readouterr().out
    assert f"resuming from {checkpoint} after epoch 1" in output
    assert "Epoch 1/2" not in output and "Epoch 2/2" in output


def test_python_dash_m_and_the_errors():
    result = subprocess.run([sys.executable, "-m", "minicnn", "train", "--dataset", "mnist"],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "--dataset mnist needs --data-dir" in result.stderr
    with pytest.raises(SystemExit):
        main(["train", "--optimizer", "lbfgs"])


def test_resuming_with_more_epochs_moves_the_learning_rate_onto_the_new_schedule(tmp_path,
                                                                                  capsys):
    checkpoint = tmp_path / "lenet.npz"
    main(["train", "--epochs", "1", "--verbose", "0", "--checkpoint", str(checkpoint)])
    capsys.readouterr()
    main(["train", "--epochs", "3", "--verbose", "2", "--checkpoint", str(checkpoint)])
    output = capsys.readouterr().out
    assert "learning rate 0 -> 0.00075: the cosine schedule now spans 3 epochs" in output
    assert re.search(r"Epoch 2/3 .* - lr: 0.00075", output)


def test_device_cuda_without_a_gpu_says_what_is_missing():
    import minicnn as mc

    if mc.cuda.is_available():
        pytest.skip("a GPU is present: tests/gpu trains on it")
    with pytest.raises(SystemExit, match=r"--device cuda needs CuPy .* and an NVIDIA GPU"):
        main(["train", "--device", "cuda", "--epochs", "1"])
