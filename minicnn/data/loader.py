"""DataLoader: a dataset in batches, every sample once per epoch, optionally shuffled, and
optionally sharded across the ranks of a distributed job."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Iterator

import numpy as np

from minicnn import random
from minicnn.backend.devices import DEVICES, to_device
from minicnn.data.dataset import Dataset, stack_samples
from minicnn.nn._checks import positive_int


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size`` samples.

    Each batch is a tuple of contiguous arrays, one per field of the samples (e.g. ``(images,
    labels)``), stacked along a new first axis, in the dataset's dtypes. ``shuffle`` draws a new
    order every epoch: from minicnn's generator (``minicnn.manual_seed``), or, when ``seed`` is
    given, as a function of (seed, epoch) alone, so that epoch k's order is the same whether
    training ran straight through or resumed at k (the Trainer calls ``set_epoch``). ``drop_last``
    drops a last, smaller batch. ``batch_size=1`` gives SGD, ``batch_size=len(dataset)``
    full-batch gradient descent. ``device='cuda'`` hands each batch over on the GPU (as CuPy
    arrays); the dataset itself stays where it is.

    ``shard=True`` (data-parallel training under mpiexec, see ``minicnn.distributed``) makes each
    rank read only its share of every epoch, through a ``DistributedSampler`` with PyTorch's
    order: the permutation of (seed, epoch), ``seed`` 0 when None, so that every rank draws the
    same one, split into disjoint shares padded to equal sizes; ``len()`` then counts this rank's
    batches, the same on every rank. ``sampler`` (any iterable of indices with ``__len__``, with
    ``set_epoch`` if it has one) chooses the order instead of ``shuffle``. In a world of one,
    ``shard=True`` reads the whole dataset (in PyTorch's shuffled order).
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
        device: str | None = None,
        *,
        sampler: Iterable[int] | None = None,
        shard: bool = False,
    ) -> None:
        if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
            raise TypeError(
                "DataLoader: dataset must have __len__ and __getitem__, got "
                f"{type(dataset).__name__}"
            )
        batch_size = positive_int(batch_size, "batch_size", "DataLoader")
        if seed is not None and (not isinstance(seed, numbers.Integral) or seed < 0):
            raise ValueError(f"DataLoader: seed must be None or a non-negative int, got {seed!r}")
        if device is not None and device not in DEVICES:
            raise ValueError(f"DataLoader: unknown device {device!r}; expected one of {DEVICES}")
        if sampler is not None and (shuffle or shard):
            raise ValueError(
                "DataLoader: sampler is mutually exclusive with shuffle and shard (the sampler "
                "chooses the order; e.g. DistributedSampler(dataset, shuffle=True))"
            )
        sized_iterable = all(hasattr(sampler, name) for name in ("__iter__", "__len__"))
        if sampler is not None and not sized_iterable:
            raise TypeError(
                "DataLoader: sampler must be an iterable of indices with __len__, got "
                f"{type(sampler).__name__}"
            )
        if shard:  # imported here: minicnn.distributed (and mpi4py) only for sharded loaders
            from minicnn.distributed.sampler import DistributedSampler

            sampler = DistributedSampler(dataset, shuffle=shuffle, seed=seed or 0)
        self.sampler, self.shard = sampler, shard
        self.dataset, self.batch_size, self.device = dataset, batch_size, device
        self.shuffle, self.drop_last, self.seed = shuffle, drop_last, seed
        self.epoch = 0  # the epoch the next iteration serves

    def __len__(self) -> int:
        """The number of batches per epoch (this rank's when sharded)."""
        samples = len(self.dataset) if self.sampler is None else len(self.sampler)
        count = samples / self.batch_size
        return math.floor(count) if self.drop_last else math.ceil(count)

    def set_epoch(self, epoch: int) -> None:
        """Serve ``epoch``'s order next (with a seed, the order depends on the epoch only)."""
        self.epoch = epoch

    def _order(self) -> np.ndarray:
        if self.sampler is not None:
            if hasattr(self.sampler, "set_epoch"):
                self.sampler.set_epoch(self.epoch)
            return np.fromiter(self.sampler, dtype=np.int64, count=len(self.sampler))
        size = len(self.dataset)
        if not self.shuffle:
            return np.arange(size)
        if self.seed is None:
            return random.generator().permutation(size)
        return np.random.default_rng((self.seed, self.epoch)).permutation(size)

    def __iter__(self) -> Iterator[tuple]:
        order = self._order()
        self.epoch += 1
        for batch in range(len(self)):
            fields = self._collate(order[batch * self.batch_size : (batch + 1) * self.batch_size])
            if self.device is not None:
                fields = tuple(to_device(field, self.device) for field in fields)
            yield fields

    def _collate(self, indices: np.ndarray) -> tuple:
        """The samples at ``indices`` as a tuple of stacked arrays: minicnn's datasets slice
        them at once (``Dataset.batch``), any other indexable one is read sample by sample."""
        if isinstance(self.dataset, Dataset):
            return self.dataset.batch(indices)
        return stack_samples([self.dataset[int(index)] for index in indices])
