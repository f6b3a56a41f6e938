"""Small collectives on Python values: the mean of a few floats, any picklable object."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from minicnn.distributed import world


def average(values: Mapping[str, float]) -> dict[str, float]:
    """The mean over ranks of each value, e.g. an epoch's ``{'loss': ..., 'accuracy': ...}``.

    Every rank must pass the same keys (in any order); the result comes in the order of rank
    0's keys, the same on every rank. A NaN on any rank gives NaN (a sum propagates it), as it
    would in one process. In a world of one it returns the values as floats, unchanged.
    """
    floats = {str(key): float(value) for key, value in values.items()}
    comm = world.communicator()
    if comm is None:
        return floats
    every_keys = comm.allgather(list(floats))
    keys = every_keys[0]
    for rank, theirs in enumerate(every_keys):
        if set(theirs) != set(keys):
            raise ValueError(
                f"average: every rank must pass the same keys; rank 0 passed {keys}, rank {rank} "
                f"passed {theirs}"
            )
    buffer = np.array([floats[key] for key in keys], dtype=np.float64)
    comm.Allreduce(world.mpi().IN_PLACE, buffer, op=world.mpi().SUM)
    buffer /= comm.Get_size()
    return dict(zip(keys, buffer.tolist(), strict=True))


def broadcast_object(obj: Any, root: int = 0) -> Any:
    """Rank ``root``'s ``obj`` on every rank (pickled; the other ranks' ``obj`` is ignored).
    The identity in a world of one."""
    root = world.check_root(root, "broadcast_object")
    comm = world.communicator()
    return obj if comm is None else comm.bcast(obj, root=root)
