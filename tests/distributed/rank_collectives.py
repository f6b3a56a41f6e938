"""Run by test_mpi_collectives.py on 2 ranks: every collective of minicnn.distributed once,
including the failures every rank must report alike (no rank left waiting). Each rank writes
what it saw to OUTPUT/rank<R>.json and its parameters to OUTPUT/rank<R>.npz."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

import minicnn as mc
from minicnn import distributed, nn, optim
from minicnn.data import DataLoader, TensorDataset
from minicnn.distributed import world
from minicnn.nn.parameter import Parameter


class CountingComm:
    """COMM_WORLD, counting the Allreduce calls that go through it."""

    def __init__(self, comm) -> None:
        self.comm, self.allreduce_calls = comm, 0

    def Allreduce(self, *args, **kwargs):  # noqa: N802 (mpi4py's name)
        self.allreduce_calls += 1
        return self.comm.Allreduce(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self.comm, name)


def small_cnn(seed: int) -> nn.Module:
    mc.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 2, 3, dtype="float64"), nn.ReLU(), nn.Flatten(),
                         nn.Linear(2 * 4 * 4, 3, dtype="float64"))


def error_of(call) -> str | None:
    try:
        call()
    except (ValueError, TypeError) as error:
        return f"{type(error).__name__}: {error}"
    return None


def main(output: Path) -> None:
    distributed.init()
    rank = distributed.rank()
    seen: dict = {"rank": rank, "world_size": distributed.world_size(),
                  "is_primary": distributed.is_primary(),
                  "is_initialized": distributed.is_initialized()}
    arrays: dict[str, np.ndarray] = {}

    # parameters: each rank its own init, then rank 0's everywhere
    model = small_cnn(seed=rank)
    arrays.update({f"before/{key}": value for key, value in model.state_dict().items()})
    distributed.broadcast_parameters(model)
    arrays.update({f"after/{key}": value for key, value in model.state_dict().items()})
    mixed = [Parameter(np.full(5, rank, dtype=np.float64)),
             Parameter(np.full((2, 3), rank + 10, dtype=np.float32)),
             Parameter(np.full(7, rank + 20, dtype=np.float64))]
    distributed.broadcast_parameters(mixed, root=1, bucket_bytes=16)  # one bucket each
    seen["mixed_from_rank_1"] = [param.data.ravel().tolist() for param in mixed]

    # optimizer state: rank 0 has taken a step with lr 0.3, rank 1 none with lr 0.1
    sgd = optim.SGD(model.parameters(), lr=0.3 if rank == 0 else 0.1, momentum=0.9)
    if rank == 0:
        for param in model.parameters():
            param.grad = np.ones_like(param.data)
        sgd.step()
        sgd.zero_grad()
    distributed.broadcast_optimizer_state(distributed.DistributedOptimizer(sgd))
    seen["lr"] = sgd.param_groups[0]["lr"]
    seen["momentum_buffers"] = [
        None if param not in sgd.state else sgd.state[param]["momentum_buffer"].sum()
        for param in model.parameters()
    ]

    seen["object"] = distributed.broadcast_object({"from": rank})
    seen["object_root_1"] = distributed.broadcast_object({"from": rank}, root=1)
    values = {"loss": rank + 1.0, "nan": math.nan if rank == 0 else 2.0, "lr": 0.5}
    if rank == 1:
        values = dict(reversed(values.items()))  # the same keys in another order
    seen["average"] = distributed.average(values)

    # gradients: a float64 grad on both ranks, a float32 one on rank 0 only, one on neither
    counting = world._comm = CountingComm(world._comm)
    grads = [Parameter(np.zeros(4)), Parameter(np.zeros(3, dtype=np.float32)),
             Parameter(np.zeros(2)), Parameter(np.zeros((2, 2), dtype=np.float32))]
    grads[0].grad = np.arange(4.0) * (rank + 1)
    grads[1].grad = np.full(3, 4.0, dtype=np.float32) if rank == 0 else None
    grads[3].grad = np.full((2, 2), rank, dtype=np.float32)
    distributed.allreduce_gradients(grads)
    seen["allreduce_calls_mixed"] = counting.allreduce_calls  # one per dtype
    seen["grads"] = [None if p.grad is None else p.grad.ravel().tolist() for p in grads]
    seen["grad_dtypes"] = [None if p.grad is None else str(p.grad.dtype) for p in grads]
    for param in model.parameters():
        param.grad = np.full(param.shape, float(rank))
    counting.allreduce_calls = 0
    distributed.allreduce_gradients(model)
    seen["allreduce_calls_model"] = counting.allreduce_calls
    seen["model_grads"] = [float(param.grad.mean()) for param in model.parameters()]
    counting.allreduce_calls = 0
    distributed.allreduce_gradients(model, bucket_bytes=100)  # a bucket for each parameter
    seen["allreduce_calls_small_buckets"] = counting.allreduce_calls
    world._comm = counting.comm

    # failures that every rank must see alike
    seen["shape_error"] = error_of(lambda: distributed.broadcast_parameters(
        nn.Linear(3, 4 if rank == 0 else 5, dtype="float64")))
    seen["count_error"] = error_of(lambda: distributed.broadcast_parameters(
        nn.Linear(3, 4, bias=rank == 0, dtype="float64")))
    seen["optimizer_error"] = error_of(lambda: distributed.broadcast_optimizer_state(
        optim.SGD(nn.Linear(3, 4, bias=rank == 0).parameters(), lr=0.1)))
    seen["average_error"] = error_of(lambda: distributed.average({f"key{rank}": 1.0}))

    # sharded loading: a dataset of 11 samples whose labels are their indices
    dataset = TensorDataset(np.zeros((11, 2)), np.arange(11))
    loader = DataLoader(dataset, batch_size=3, shuffle=True, seed=5, shard=True)
    seen["shard_len"] = len(loader)
    seen["shard_epochs"] = [np.concatenate([y for _, y in loader]).tolist() for _ in range(2)]
    plain = DataLoader(dataset, batch_size=4, shard=True)
    seen["shard_unshuffled"] = np.concatenate([y for _, y in plain]).tolist()
    dropping = DataLoader(dataset, batch_size=2,
                          sampler=distributed.DistributedSampler(dataset, drop_last=True))
    seen["shard_drop_last"] = np.concatenate([y for _, y in dropping]).tolist()
    seen["shard_drop_last_len"] = len(dropping)

    distributed.barrier()
    (output / f"rank{rank}.json").write_text(json.dumps(seen))
    np.savez(output / f"rank{rank}.npz", **arrays)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
