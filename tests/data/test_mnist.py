"""MNIST and FashionMNIST from small IDX files the tests write: both folder layouts, raw and
gzipped files, the download path (served locally, MD5-checked, atomic), and clear errors."""

from __future__ import annotations

import gzip
import hashlib
import io
import urllib.error
import urllib.request

import numpy as np
import pytest

from minicnn.data import MNIST, FashionMNIST, IDXError


def idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(s.to_bytes(4, "big") for s in array.shape)
    return header + array.tobytes()


def small_split(count: int, seed: int):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, 28, 28), dtype=np.uint8), rng.integers(0, 10, count,
                                                                              dtype=np.uint8)


def write(folder, split, images, labels, compress):
    folder.mkdir(parents=True, exist_ok=True)
    for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
        data = idx(array)
        name = f"{split}-{kind}-ubyte" + (".gz" if compress else "")
        (folder / name).write_bytes(gzip.compress(data) if compress else data)


@pytest.mark.parametrize("dataset, subfolder", [(MNIST, "MNIST/raw"), (FashionMNIST,
                                                                      "FashionMNIST/raw")])
@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("in_root", [True, False])
@pytest.mark.parametrize("train", [True, False])
def test_reads_both_layouts_raw_or_gzipped(tmp_path, dataset, subfolder, compress, in_root,
                                           train):
    images, labels = small_split(5, seed=int(train))
    folder = tmp_path if in_root else tmp_path / subfolder
    write(folder, "train" if train else "t10k", images, labels, compress)
    loaded = dataset(tmp_path, train=train)
    assert len(loaded) == 5 and len(loaded.classes) == 10
    np.testing.assert_array_equal(loaded.data, images)
    np.testing.assert_array_equal(loaded.targets, labels)
    image, label = loaded[2]
    np.testing.assert_allclose(image[0], images[2] / 255, rtol=1e-6)
    assert label == labels[2]


def test_a_missing_file_says_where_it_looked_and_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"MNIST: train-images-idx3-ubyte not found "
                                                r"\(looked for .*MNIST/raw/train-images-idx3-"
                                                r"ubyte.gz\); pass download=True"):
        MNIST(tmp_path)


def test_a_truncated_file_is_named(tmp_path):
    images, labels = small_split(3, seed=0)
    write(tmp_path, "t10k", images, labels, compress=False)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(IDXError, match=r"t10k-images-idx3-ubyte: truncated"):
        MNIST(tmp_path, train=False)


class FakeServer:
    """Stands in for urllib.request.urlopen: serves ``files`` by name, records the URLs."""

    def __init__(self, files: dict[str, bytes], broken_urls=()):
        self.files, self.broken, self.asked = files, tuple(broken_urls), []

    def __call__(self, url, timeout=None):
        self.asked.append(url)
        if url.startswith(self.broken):
            raise urllib.error.URLError("unreachable")
        return io.BytesIO(self.files[url.rsplit("/", 1)[1]])


def served(split_files: dict[str, bytes], dataset):
    """The files, and a copy of ``dataset`` whose md5 table matches them."""
    md5 = {name: hashlib.md5(data).hexdigest() for name, data in split_files.items()}
    return type(f"Patched{dataset.__name__}", (dataset,), {"md5": md5})


def test_download_fetches_checks_and_places_the_files(tmp_path, monkeypatch):
    images, labels = small_split(4, seed=5)
    files = {"t10k-images-idx3-ubyte.gz": gzip.compress(idx(images)),
             "t10k-labels-idx1-ubyte.gz": gzip.compress(idx(labels))}
    dataset = served(files, MNIST)
    server = FakeServer(files, broken_urls=(MNIST.mirrors[0],))  # the first mirror is down
    monkeypatch.setattr(urllib.request, "urlopen", server)
    loaded = dataset(tmp_path, train=False, download=True)
    np.testing.assert_array_equal(loaded.data, images)
    raw = tmp_path / "PatchedMNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(files)  # no temporary files left
    assert any(url.startswith(MNIST.mirrors[1]) for url in server.asked)
    server.asked.clear()
    dataset(tmp_path, train=False, download=True)  # already there: nothing fetched
    assert server.asked == []


def test_a_download_with_a_wrong_checksum_leaves_nothing_behind(tmp_path, monkeypatch):
    images, labels = small_split(2, seed=6)
    files = {"train-images-idx3-ubyte.gz": gzip.compress(idx(images)),
             "train-labels-idx1-ubyte.gz": gzip.compress(idx(labels))}
    monkeypatch.setattr(urllib.request, "urlopen", FakeServer(files))
    with pytest.raises(OSError, match=r"could not download train-images-idx3-ubyte.gz: .*MD5 "
                                      r"[0-9a-f]{32}, expected 8d4fb7e6c68d591d4c3dfef9ec88bf0d"):
        FashionMNIST(tmp_path, download=True)
    assert not any((tmp_path / "FashionMNIST" / "raw").iterdir())
