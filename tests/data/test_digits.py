"""The embedded Digits dataset: real digits, balanced, in torchvision's sample format."""

from __future__ import annotations

import numpy as np
import pytest

from minicnn.data import Dataset, Digits, TensorDataset
from minicnn.data.datasets import _IDXImages


@pytest.mark.parametrize("train, per_class", [(True, 800), (False, 200)])
def test_digits_is_a_balanced_mnist_subset(train, per_class):
    digits = Digits(train=train)
    assert isinstance(digits, Dataset) and len(digits) == 10 * per_class
    assert digits.data.shape == (10 * per_class, 28, 28) and digits.data.dtype == np.uint8
    assert digits.targets.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(digits.targets), [per_class] * 10)
    # real handwriting: ink on a dark background, and no two images alike
    assert 0.05 < (digits.data > 127).mean() < 0.3
    assert len(np.unique(digits.data.reshape(len(digits), -1), axis=0)) == len(digits)


def test_a_sample_is_a_float_image_in_0_1_and_an_int_label():
    digits = Digits(train=False)
    image, label = digits[7]
    assert image.shape == (1, 28, 28) and image.dtype == np.float32
    assert 0 <= image.min() and image.max() <= 1
    np.testing.assert_allclose(image[0] * 255, digits.data[7], atol=1e-4)
    assert label == digits.targets[7] and isinstance(label, np.int64)
    images, labels = digits.arrays()
    np.testing.assert_array_equal(images[7], image)
    np.testing.assert_array_equal(labels, digits.targets)


def test_tensor_dataset_indexes_every_array():
    dataset = TensorDataset(np.arange(6).reshape(3, 2), np.array([7, 8, 9]))
    assert len(dataset) == 3
    first, label = dataset[1]
    np.testing.assert_array_equal(first, [2, 3])
    assert label == 8
    with pytest.raises(ValueError, match=r"same length, got \[3, 2\]"):
        TensorDataset(np.zeros(3), np.zeros(2))


def write_split(folder, images, labels):
    """IDX files of the training split, as MNIST names them."""
    for name, array in (("train-images-idx3-ubyte.gz", images),
                        ("train-labels-idx1-ubyte.gz", labels)):
        code = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C}[array.dtype]
        header = bytes([0, 0, code, array.ndim]) + b"".join(
            side.to_bytes(4, "big") for side in array.shape)
        (folder / name).write_bytes(header + array.astype(array.dtype.newbyteorder(">")).tobytes())


@pytest.mark.parametrize(
    "images, labels, message",
    [
        (np.zeros((3, 28, 28), np.uint8), np.array([1, 2], np.uint8),
         r"train-images-idx3-ubyte.gz holds 3 images but .*train-labels-idx1-ubyte.gz holds 2"),
        (np.zeros((2, 32, 32), np.uint8), np.array([1, 2], np.uint8),
         r"train-images-idx3-ubyte.gz: expected uint8 images of shape \(N, 28, 28\), got "
         r"uint8 of shape \(2, 32, 32\)"),
        (np.zeros((2, 28, 28), np.uint8), np.array([1, 12], np.uint8),
         r"train-labels-idx1-ubyte.gz: expected a 1-D array of labels 0-9, .*values up to 12"),
        (np.zeros((2, 28, 28), np.uint8), np.array([1, -1], np.int32),
         r"labels 0-9, got int32"),
    ],
)
def test_image_and_label_files_that_do_not_fit_are_named(tmp_path, images, labels, message):
    write_split(tmp_path, images, labels)
    with pytest.raises(ValueError, match=message):
        _IDXImages(tmp_path / "train-images-idx3-ubyte.gz", tmp_path / "train-labels-idx1-ubyte.gz",
                   train=True)
