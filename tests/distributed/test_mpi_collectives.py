"""Every collective on 2 ranks (one mpiexec launch, rank_collectives.py): broadcasts make the
ranks equal, gradients are averaged in one Allreduce per bucket, a mismatch between the ranks
raises the same clear error on every rank, and sharded loaders split each epoch."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from mpi_launch import check_success, launch

from minicnn.data import TensorDataset
from minicnn.distributed import DistributedSampler


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> list[dict]:
    output = tmp_path_factory.mktemp("collectives")
    check_success(launch("rank_collectives.py", output))
    seen = [json.loads((output / f"rank{rank}.json").read_text()) for rank in range(2)]
    for rank, values in enumerate(seen):
        values["arrays"] = dict(np.load(output / f"rank{rank}.npz"))
    return seen


def test_world(ranks):
    assert [(r["rank"], r["world_size"], r["is_primary"], r["is_initialized"]) for r in ranks] == [
        (0, 2, True, True), (1, 2, False, True)
    ]


def test_broadcast_parameters_gives_every_rank_the_roots(ranks):
    first, second = (r["arrays"] for r in ranks)
    keys = [key.removeprefix("after/") for key in first if key.startswith("after/")]
    assert keys == ["0.weight", "0.bias", "3.weight", "3.bias"]
    for key in keys:
        assert not np.array_equal(first[f"before/{key}"], second[f"before/{key}"])
        np.testing.assert_array_equal(first[f"after/{key}"], first[f"before/{key}"])
        np.testing.assert_array_equal(second[f"after/{key}"], first[f"before/{key}"])
    for rank in ranks:  # root=1, several buckets and dtypes
        assert rank["mixed_from_rank_1"] == [[1.0] * 5, [11.0] * 6, [21.0] * 7]


def test_broadcast_optimizer_state(ranks):
    for rank in ranks:
        assert rank["lr"] == 0.3
        assert rank["momentum_buffers"] == [18.0, 2.0, 96.0, 3.0]  # ones, one per element


def test_broadcast_object_and_average(ranks):
    for rank in ranks:
        assert rank["object"] == {"from": 0} and rank["object_root_1"] == {"from": 1}
        average = rank["average"]
        assert list(average) == ["loss", "nan", "lr"]  # rank 0's order on every rank
        assert average["loss"] == 1.5 and average["lr"] == 0.5 and math.isnan(average["nan"])


def test_allreduce_gradients_averages_in_one_call_per_bucket(ranks):
    for rank in ranks:
        # rank 1's grads were twice rank 0's; the float32 one existed on rank 0 only (None
        # counts as zeros); no rank had one for the third parameter, which keeps None
        assert rank["grads"] == [[0.0, 1.5, 3.0, 4.5], [2.0, 2.0, 2.0], None, [0.5] * 4]
        assert rank["grad_dtypes"] == ["float64", "float32", None, "float32"]
        assert rank["allreduce_calls_mixed"] == 2  # one bucket per dtype
        assert rank["allreduce_calls_model"] == 1  # a float64 model: one call for 4 tensors
        assert rank["model_grads"] == [0.5] * 4
        assert rank["allreduce_calls_small_buckets"] == 4


def test_a_mismatch_raises_the_same_clear_error_on_every_rank(ranks):
    for key in ("shape_error", "count_error", "optimizer_error", "average_error"):
        assert ranks[0][key] == ranks[1][key] is not None
    assert ranks[0]["shape_error"] == (
        "ValueError: broadcast_parameters: parameter 'weight' has shape (4, 3) and dtype "
        "float64 on rank 0, but 'weight' has shape (5, 3) and dtype float64 on rank 1; every "
        "rank must build the same model (same layers, sizes and dtype) before broadcasting it"
    )
    assert "rank 0 has 2 parameters, rank 1 has 1" in ranks[0]["count_error"]
    assert "rank 1 cannot load rank 0's optimizer state" in ranks[0]["optimizer_error"]
    assert "every rank must pass the same keys" in ranks[0]["average_error"]


def test_sharded_loaders_split_every_epoch(ranks):
    dataset = TensorDataset(np.zeros((11, 2)), np.arange(11))
    assert ranks[0]["shard_len"] == ranks[1]["shard_len"] == 2  # 6 samples each, batches of 3
    for epoch in range(2):
        shares = [rank["shard_epochs"][epoch] for rank in ranks]
        assert len(shares[0]) == len(shares[1]) == 6
        assert set(shares[0] + shares[1]) == set(range(11))  # all, the first one twice
        for number, share in enumerate(shares):  # PyTorch's order, permutation of seed + epoch
            sampler = DistributedSampler(dataset, num_replicas=2, rank=number, seed=5)
            sampler.set_epoch(epoch)
            assert share == list(sampler)
    assert ranks[0]["shard_epochs"][0] != ranks[0]["shard_epochs"][1]  # reshuffled
    assert ranks[0]["shard_unshuffled"] == [0, 2, 4, 6, 8, 10]
    assert ranks[1]["shard_unshuffled"] == [1, 3, 5, 7, 9, 0]  # padded from the start
    dropped = ranks[0]["shard_drop_last"] + ranks[1]["shard_drop_last"]
    assert len(dropped) == len(set(dropped)) == 10  # disjoint, one sample left out
    assert ranks[0]["shard_drop_last_len"] == ranks[1]["shard_drop_last_len"] == 3
