"""DistributedSampler: each rank's share of a dataset's indices, with PyTorch's semantics."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Sized

import numpy as np

from minicnn.distributed import world
from minicnn.distributed.randperm import randperm


class DistributedSampler:
    """The indices of ``dataset`` that rank ``rank`` of ``num_replicas`` reads each epoch, as
    ``torch.utils.data.DistributedSampler`` gives them (the same indices, checked in the tests).

    Every epoch all ranks draw the same permutation (``shuffle``: from ``seed + epoch``; call
    ``set_epoch(epoch)`` before each epoch for a new order) or take 0..N-1, and rank r takes
    items r, r + num_replicas, r + 2 num_replicas, ...: the shares are disjoint. So that every
    rank has the same number of samples (and so takes the same number of steps), the list is
    first padded by repeating its start, to a multiple of num_replicas (a few samples are seen
    twice), or, with ``drop_last``, cut to one (a few are not seen this epoch).
    ``num_replicas`` and ``rank`` default to the world's.
    """

    def __init__(
        self,
        dataset: Sized,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if not hasattr(dataset, "__len__"):
            raise TypeError(
                f"DistributedSampler: dataset must have __len__, got {type(dataset).__name__}"
            )
        num_replicas = world.world_size() if num_replicas is None else num_replicas
        rank = world.rank() if rank is None else rank
        if not isinstance(num_replicas, numbers.Integral) or num_replicas < 1:
            raise ValueError(
                f"DistributedSampler: num_replicas must be a positive int, got {num_replicas!r}"
            )
        if not isinstance(rank, numbers.Integral) or not 0 <= rank < num_replicas:
            raise ValueError(
                f"DistributedSampler: invalid rank {rank!r}, rank should be in the interval "
                f"[0, {num_replicas - 1}]"
            )
        if not isinstance(seed, numbers.Integral):
            raise TypeError(f"DistributedSampler: seed must be an int, got {seed!r}")
        self.dataset, self.num_replicas, self.rank = dataset, int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = shuffle, int(seed), drop_last
        self.epoch = 0
        size = len(dataset)
        if drop_last and size % self.num_replicas != 0:
            self.num_samples = math.ceil((size - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(size / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Draw ``epoch``'s permutation next (the same on every rank that passes the same
        epoch)."""
        self.epoch = epoch

    def indices(self) -> np.ndarray:
        """This rank's indices for the current epoch, as an int64 array."""
        size = len(self.dataset)
        if self.shuffle:
            order = randperm(size, self.seed + self.epoch)
        else:
            order = np.arange(size, dtype=np.int64)
        if self.drop_last:
            order = order[: self.total_size]
        elif self.total_size > size:  # pad by repeating the start, as often as needed
            order = np.resize(order, self.total_size)
        return order[self.rank : self.total_size : self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        """The number of samples this rank reads per epoch (the same on every rank)."""
        return self.num_samples
