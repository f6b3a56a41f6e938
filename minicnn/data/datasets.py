"""Digit and clothing datasets with torchvision's names: the embedded ``Digits``, ``MNIST`` and
``FashionMNIST``.

Samples are ``(image, label)``: the image float32 (1, 28, 28) in [0, 1], the label an int64.
``.data`` (uint8, (N, 28, 28)) and ``.targets`` (int64, (N,)) hold the whole set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from minicnn.data.dataset import Dataset
from minicnn.data.download import download_file
from minicnn.data.idx import read_idx

DIGITS_DIR = Path(__file__).resolve().parent / "digits"
SPLITS = {True: "train", False: "t10k"}


class _IDXImages(Dataset):
    """28x28 images and their labels 0-9, read from a pair of IDX files (MNIST's format)."""

    classes: tuple[str, ...] = tuple(str(digit) for digit in range(10))

    def __init__(self, images_path: Path, labels_path: Path, train: bool) -> None:
        self.train = train
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

    def batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.data[indices, None].astype(np.float32) / np.float32(255), self.targets[indices]

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The whole set at once: images float32 (N, 1, 28, 28) in [0, 1], labels int64 (N,)."""
        return self.batch(np.arange(len(self)))

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return f"{type(self).__name__}(train={self.train}): {len(self)} {split} images"


class Digits(_IDXImages):
    """The embedded offline digits: a class-balanced MNIST subset shipped in the package,
    8000 training images (800 per digit) and 2000 test images (200 per digit); see
    ``minicnn/data/digits/README.md`` for its source and licence."""

    def __init__(self, train: bool = True) -> None:
        split = SPLITS[bool(train)]
        super().__init__(
            DIGITS_DIR / f"{split}-images-idx3-ubyte.gz",
            DIGITS_DIR / f"{split}-labels-idx1-ubyte.gz",
            train,
        )


class MNIST(_IDXImages):
    """MNIST from its IDX files (raw or ``.gz``) in ``root`` or ``root/MNIST/raw``
    (torchvision's layout). ``download=True`` fetches the missing files into
    ``root/MNIST/raw`` first (checked against their MD5 sums)."""

    mirrors = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
               "http://yann.lecun.com/exdb/mnist/")
    md5 = {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }

    def __init__(self, root: str | Path, train: bool = True, download: bool = False) -> None:
        self.root = Path(root)
        split = SPLITS[bool(train)]
        names = (f"{split}-images-idx3-ubyte", f"{split}-labels-idx1-ubyte")
        paths = [self._find(name, download) for name in names]
        super().__init__(*paths, train)

    @property
    def raw_folder(self) -> Path:
        return self.root / type(self).__name__ / "raw"

    def _find(self, name: str, download: bool) -> Path:
        """The first of root/name[.gz] and root/<Class>/raw/name[.gz] that exists; else the
        downloaded file, or a FileNotFoundError that lists where it looked."""
        candidates = [folder / (name + suffix) for folder in (self.root, self.raw_folder)
                      for suffix in ("", ".gz")]
        for path in candidates:
            if path.is_file():
                return path
        if download:
            target = self.raw_folder / f"{name}.gz"
            download_file([url + target.name for url in self.mirrors], target,
                          self.md5[target.name])
            return target
        looked = ", ".join(str(path) for path in candidates)
        raise FileNotFoundError(
            f"{type(self).__name__}: {name} not found (looked for {looked}); pass download=True "
            "to fetch it, or put the IDX files there"
        )


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando's 28x28 clothing images, MNIST's format and layout), from
    ``root`` or ``root/FashionMNIST/raw``; ``download=True`` fetches missing files."""

    classes = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot")
    mirrors = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
    md5 = {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }
