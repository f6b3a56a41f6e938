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
    return _reduce(values, "average", mean=True)


def total(values: Mapping[str, float]) -> dict[str, float]:
    """The sum over ranks of each value (``average``'s rules for keys and NaN), e.g. the
    counts and sums an epoch's means are made of, so that the means weigh every sample alike."""
    return _reduce(values, "total", mean=False)


def _reduce(values: Mapping[str, float], caller: str, mean: bool) -> dict[str, float]:
    floats = {str(key): float(value) for key, value in values.items()}
    comm = world.communicator()
    if comm is None:
        return floats
    every_keys = comm.allgather(list(floats))
    keys = every_keys[0]
    for rank, theirs in enumerate(every_keys):
        if set(theirs) != set(keys):
            raise ValueError(
                f"{caller}: every rank must pass the same keys; rank 0 passed {keys}, rank "
                f"{rank} passed {theirs}"
            )
    buffer = np.array([floats[key] for key in keys], dtype=np.float64)
    comm.Allreduce(world.mpi().IN_PLACE, buffer, op=world.mpi().SUM)
    if mean:
        buffer /= comm.Get_size()
    return dict(zip(keys, buffer.tolist(), strict=True))


def gather(obj: Any) -> list:
    """Every rank's ``obj`` (picklable), in rank order, on every rank; ``[obj]`` in a world of
    one."""
    comm = world.communicator()
    return [obj] if comm is None else comm.allgather(obj)


def any_rank(flag: bool) -> bool:
    """True on every rank when ``flag`` is true on at least one (e.g. a callback asked one rank
    to stop: every rank must stop at the same step, or the others wait in a collective)."""
    comm = world.communicator()
    if comm is None:
        return bool(flag)
    return bool(comm.allreduce(int(bool(flag)), op=world.mpi().MAX))


def broadcast_object(obj: Any, root: int = 0) -> Any:
    """Rank ``root``'s ``obj`` on every rank (pickled; the other ranks' ``obj`` is ignored).
    The identity in a world of one."""
    root = world.check_root(root, "broadcast_object")
    comm = world.communicator()
    return obj if comm is None else comm.bcast(obj, root=root)
