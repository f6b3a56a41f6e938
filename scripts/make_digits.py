"""Make the embedded Digits dataset (minicnn/data/digits/) from the MNIST IDX files.

Run once by a maintainer; the package never runs it. It keeps the first 800 training and the
first 200 test images of each digit, in MNIST's order, and writes them in MNIST's own format
(gzipped IDX, fixed gzip mtime so the bytes are reproducible):

    python scripts/make_digits.py /path/to/mnist   # the folder of the four *-ubyte.gz files
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import numpy as np

from minicnn.data.idx import read_idx

PER_CLASS = {"train": 800, "t10k": 200}
OUT = Path(__file__).resolve().parent.parent / "minicnn" / "data" / "digits"


def write_idx(path: Path, array: np.ndarray) -> None:
    """uint8 IDX: magic 0x0000 08 ndim, each dim as a big-endian uint32, then the bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    with gzip.GzipFile(path, "wb", compresslevel=9, mtime=0) as file:
        file.write(header + np.ascontiguousarray(array).tobytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mnist", type=Path, help="folder with the MNIST *-ubyte.gz files")
    source = parser.parse_args().mnist
    for split, per_class in PER_CLASS.items():
        images = read_idx(source / f"{split}-images-idx3-ubyte.gz")
        labels = read_idx(source / f"{split}-labels-idx1-ubyte.gz")
        keep = np.sort(np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in range(10)]))
        write_idx(OUT / f"{split}-images-idx3-ubyte.gz", images[keep])
        write_idx(OUT / f"{split}-labels-idx1-ubyte.gz", labels[keep])
        print(f"{split}: {len(keep)} images")


if __name__ == "__main__":
    main()
