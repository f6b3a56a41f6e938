"""Trainer.fit in a world of 2: the ranks start from rank 0's weights, average their logs, so
that EarlyStopping and ReduceLROnPlateau decide alike, end with equal parameters, and only
rank 0 writes checkpoints and prints progress. And `minicnn train --distributed`."""

from __future__ import annotations

import json

import numpy as np
from mpi_launch import check_success, launch


def test_fit_on_two_ranks_decides_alike_and_rank_0_alone_writes(tmp_path):
    result = launch("rank_trainer.py", tmp_path, timeout=120)
    check_success(result)
    ranks = [np.load(tmp_path / f"rank{r}.npz") for r in (0, 1)]
    assert all(int(r["world"]) == 2 for r in ranks)
    histories = [json.loads(str(r["history"])) for r in ranks]
    assert histories[0] == histories[1]  # averaged logs: the same on every rank, exactly
    assert float(ranks[0]["lr"]) == float(ranks[1]["lr"]) < 0.05  # ReduceLROnPlateau, alike
    assert int(ranks[0]["stopped"]) == int(ranks[1]["stopped"]) > 0  # stopped early, alike
    for key in ("0.weight", "0.bias", "2.weight", "2.bias"):
        np.testing.assert_array_equal(ranks[0][key], ranks[1][key])
    assert (tmp_path / "best-rank0.npz").exists()
    assert not (tmp_path / "best-rank1.npz").exists()
    assert result.stdout.count("Epoch 1/25") == 1  # one progress bar: rank 0's


def test_cli_trains_on_two_ranks(tmp_path):
    result = launch("rank_cli.py", tmp_path, timeout=240)
    check_success(result)
    assert result.stdout.count("test accuracy") == 1  # rank 0 reports, alone
    accuracy = float(result.stdout.split("test accuracy: ")[1].split("%")[0])
    assert accuracy > 80
    assert (tmp_path / "run.npz").exists()
