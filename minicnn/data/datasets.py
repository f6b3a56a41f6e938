"""Digit datasets with torchvision's names: the embedded ``Digits``.

Samples are ``(image, label)``: the image float32 (1, 28, 28) in [0, 1], the label an int64.
``.data`` (uint8, (N, 28, 28)) and ``.targets`` (int64, (N,)) hold the whole set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from minicnn.data.dataset import Dataset
from minicnn.data.idx import read_idx

DIGITS_DIR = Path(__file__).resolve().parent / "digits"


class _IDXImages(Dataset):
    """Images and labels read from a pair of IDX files (MNIST's layout)."""

    classes = tuple(str(digit) for digit in range(10))

    def __init__(self, folder: Path, train: bool) -> None:
        self.train = train
        split = "train" if train else "t10k"
        self.data = read_idx(folder / f"{split}-images-idx3-ubyte.gz")
        self.targets = read_idx(folder / f"{split}-labels-idx1-ubyte.gz").astype(np.int64)
        if self.data.ndim != 3 or len(self.data) != len(self.targets):
            raise ValueError(
                f"{folder}: {split} images of shape {self.data.shape} do not match labels of "
                f"shape {self.targets.shape}"
            )

    def __getitem__(self, index: int):
        image = self.data[index].astype(np.float32)[None] / np.float32(255)
        return image, self.targets[index]

    def __len__(self) -> int:
        return len(self.targets)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The whole set at once: images float32 (N, 1, 28, 28) in [0, 1], labels int64 (N,)."""
        return self.data[:, None].astype(np.float32) / np.float32(255), self.targets

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return f"{type(self).__name__}(train={self.train}): {len(self)} {split} images"


class Digits(_IDXImages):
    """The embedded offline digits: a class-balanced MNIST subset shipped in the package,
    8000 training images (800 per digit) and 2000 test images (200 per digit); see
    ``minicnn/data/digits/README.md`` for its source and licence."""

    def __init__(self, train: bool = True) -> None:
        super().__init__(DIGITS_DIR, train)
