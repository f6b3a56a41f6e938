"""Run by test_mpi_equivalence.py under mpiexec: a small CNN trained for 20 steps of SGD with
momentum and 20 of Adam, in float64 and float32, each rank reading its shard of every global
batch and DistributedOptimizer averaging the gradients. Each rank starts from its own random
init (broadcast_parameters makes them rank 0's) and writes its final parameters to
OUTPUT/rank<R>.npz. Imported, ``train`` is the same run in the test's own world of one."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import minicnn as mc
from minicnn import distributed, nn, optim
from minicnn.data import DataLoader, TensorDataset

GLOBAL_BATCH, SAMPLES, STEPS = 16, 64, 20  # 4 steps an epoch, a new shuffle every 4 steps
CONFIGS = [(dtype, name) for dtype in ("float64", "float32") for name in ("sgd", "adam")]


def train(dtype: str, name: str) -> dict[str, np.ndarray]:
    """The parameters after STEPS steps with a global batch of GLOBAL_BATCH, split over the
    world's ranks."""
    mc.manual_seed(distributed.rank())  # a different init on every rank, until the broadcast
    model = nn.Sequential(nn.Conv2d(1, 4, 3, dtype=dtype), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 6 * 6, 3, dtype=dtype))
    inner = (optim.SGD(model.parameters(), lr=0.05, momentum=0.9) if name == "sgd"
             else optim.Adam(model.parameters(), lr=0.01))
    optimizer = distributed.DistributedOptimizer(inner)
    distributed.broadcast_parameters(model)
    distributed.broadcast_optimizer_state(optimizer)
    data = np.random.default_rng(1)
    features = data.standard_normal((SAMPLES, 1, 8, 8)).astype(dtype)
    labels = data.integers(0, 3, SAMPLES)
    loader = DataLoader(TensorDataset(features, labels), GLOBAL_BATCH // distributed.world_size(),
                        shuffle=True, seed=0, shard=True)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(STEPS // len(loader)):
        for x, y in loader:
            loss_fn(model(x), y)
            optimizer.zero_grad()
            model.backward(loss_fn.backward())
            optimizer.step()
    return model.state_dict()


if __name__ == "__main__":
    results = {
        f"{dtype}/{name}/{key}": value
        for dtype, name in CONFIGS
        for key, value in train(dtype, name).items()
    }
    results["world_size"] = np.array(distributed.world_size())
    np.savez(Path(sys.argv[1]) / f"rank{distributed.rank()}.npz", **results)
