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
        images_path = folder / f"{split}-images-idx3-ubyte.gz"
        labels_path = folder / f"{split}-labels-idx1-ubyte.gz"
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.dtype != np.uint8 or images.shape[1:] != (28, 28) or images.ndim != 3:
            raise ValueError(
                f"{images_path}: expected uint8 images of shape (N, 28, 28), got {images.dtype} "
                f"of shape {images.shape}"
            )
        if labels.dtype.kind not in "iu" or labels.ndim != 1 or ((labels < 0) | (labels > 9)).any():
            raise ValueError(
                f"{labels_path}: expected a 1-D array of labels 0-9, got {labels.dtype} of "
                f"shape {labels.shape} with values up to {labels.max(initial=0)}"
            )
        if len(images) != len(labels):
            raise ValueError(
                f"{images_path} holds {len(images)} images but {labels_path} holds "
                f"{len(labels)} labels"
            )
        self.data, self.targets = images, labels.astype(np.int64)

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
