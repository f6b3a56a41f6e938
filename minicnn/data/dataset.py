"""Dataset: anything with a length and indexable samples; TensorDataset over arrays."""

from __future__ import annotations

import numpy as np

from minicnn.backend.devices import array_module


def stack_samples(samples: list) -> tuple:
    """Samples (tuples of fields, or single arrays) as a tuple of arrays stacked on a new
    first axis, one per field."""
    if not isinstance(samples[0], tuple):
        return (np.stack(samples),)
    return tuple(np.stack(field) for field in zip(*samples, strict=True))


class Dataset:
    """A map-style dataset, as in PyTorch: ``len(dataset)`` samples, ``dataset[i]`` the i-th.
    ``batch(indices)`` returns several samples stacked; subclasses slice their arrays at once."""

    def __getitem__(self, index: int):
        raise NotImplementedError(f"{type(self).__name__} does not implement __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} does not implement __len__")

    def batch(self, indices: np.ndarray) -> tuple:
        """The samples at ``indices``, each field stacked into one contiguous array."""
        return stack_samples([self[int(index)] for index in indices])


class TensorDataset(Dataset):
    """Samples are the i-th rows of equally long arrays: ``dataset[i] = (a[i], b[i], ...)``."""

    def __init__(self, *arrays) -> None:
        if not arrays:
            raise ValueError("TensorDataset: expected at least one array")
        for array in arrays:
            if not hasattr(array, "shape") or len(array.shape) == 0:
                raise TypeError(
                    f"TensorDataset: expected arrays with a first (sample) axis, got "
                    f"{type(array).__name__}; convert lists with np.asarray"
                )
        lengths = [len(array) for array in arrays]
        if len(set(lengths)) != 1:
            raise ValueError(f"TensorDataset: arrays must have the same length, got {lengths}")
        self.arrays = arrays

    def __getitem__(self, index):
        return tuple(array[index] for array in self.arrays)

    def batch(self, indices: np.ndarray) -> tuple:
        """Each array's rows at ``indices``, contiguous, on the array's own device."""
        batches = []
        for array in self.arrays:
            xp = array_module(array)
            rows = array[indices] if xp is np else array[xp.asarray(indices)]
            batches.append(xp.ascontiguousarray(rows))
        return tuple(batches)

    def __len__(self) -> int:
        return len(self.arrays[0])
