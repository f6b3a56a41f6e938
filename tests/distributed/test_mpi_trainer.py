"""Trainer.fit in a world of 2: the ranks start from rank 0's weights, average their logs, so
that EarlyStopping and ReduceLROnPlateau decide alike, end with equal parameters, and only
rank 0 writes checkpoints and prints progress. And `minicnn train --distributed`."""

from __future__ import annotations

import json

import numpy as np
import pytest
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


def read_ranks(folder) -> list[dict]:
    return [json.loads((folder / f"rank{r}.json").read_text()) for r in (0, 1)]


def test_a_stop_asked_on_one_rank_stops_every_rank_at_the_same_batch(tmp_path):
    result = launch("rank_trainer_edges.py", tmp_path, "nan", timeout=60)
    check_success(result)
    assert read_ranks(tmp_path) == [{"epochs": 1}, {"epochs": 1}]


def test_ranks_with_different_step_counts_are_refused_on_every_rank(tmp_path):
    result = launch("rank_trainer_edges.py", tmp_path, "uneven", timeout=60)
    check_success(result)
    for logs in read_ranks(tmp_path):
        assert "the ranks have [8, 9] training batches per epoch" in logs["error"]


def test_logs_weigh_every_sample_alike_over_the_ranks(tmp_path):
    """lr 0 and targets ignored unevenly across the shards: the logs equal one process's."""
    import minicnn as mc
    from minicnn import nn, optim

    result = launch("rank_trainer_edges.py", tmp_path, "ignored", timeout=60)
    check_success(result)
    ranks = read_ranks(tmp_path)
    assert ranks[0] == ranks[1]
    mc.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3, dtype=np.float64))
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 4)), rng.integers(0, 3, 64)
    y[rng.random(64) < 0.6] = -100
    trainer = mc.Trainer(model, nn.CrossEntropyLoss(ignore_index=-100),
                         optim.SGD(model.parameters(), lr=0.0), metrics=["accuracy"])
    single = trainer.evaluate((x, y), batch_size=64)
    assert ranks[0]["val_accuracy"] == pytest.approx(single["accuracy"], rel=1e-12)
    assert ranks[0]["accuracy"] == pytest.approx(single["accuracy"], rel=1e-12)
    assert ranks[0]["lr"] == 0.0
