"""DataLoader: every sample once per epoch, batches as contiguous arrays of the dataset's dtype,
reproducible shuffling, drop_last, and any indexable dataset."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicnn as mc
from minicnn.data import DataLoader, Dataset, Digits, TensorDataset


def labelled(size: int) -> TensorDataset:
    features = np.arange(size * 3, dtype=np.float32).reshape(size, 3)
    return TensorDataset(features, np.arange(size))


@given(size=st.integers(1, 40), batch_size=st.integers(1, 50), shuffle=st.booleans(),
       drop_last=st.booleans())
def test_every_sample_once_per_epoch(size, batch_size, shuffle, drop_last):
    loader = DataLoader(labelled(size), batch_size, shuffle=shuffle, drop_last=drop_last, seed=0)
    for _ in range(2):
        batches = list(loader)
        assert len(batches) == len(loader)
        seen = np.concatenate([labels for _, labels in batches]) if batches else np.array([])
        full = size // batch_size * batch_size
        if drop_last:
            assert len(seen) == full and all(len(b[1]) == batch_size for b in batches)
        else:
            np.testing.assert_array_equal(np.sort(seen), np.arange(size))
        assert len(set(seen.tolist())) == len(seen)  # no sample twice
        if not shuffle:
            np.testing.assert_array_equal(seen, np.arange(len(seen)))
        for features, labels in batches:
            assert features.dtype == np.float32 and features.flags.c_contiguous
            np.testing.assert_array_equal(features[:, 0], labels * 3)  # fields stay paired


def test_shuffling_is_reproducible_and_differs_between_epochs():
    orders = []
    for _ in range(2):
        loader = DataLoader(labelled(20), batch_size=20, shuffle=True, seed=7)
        orders.append([next(iter(loader))[1] for _ in range(2)])
    np.testing.assert_array_equal(orders[0][0], orders[1][0])  # same seed, same orders
    np.testing.assert_array_equal(orders[0][1], orders[1][1])
    assert not np.array_equal(orders[0][0], orders[0][1])  # a new order every epoch

    resumed = DataLoader(labelled(20), batch_size=20, shuffle=True, seed=7)
    resumed.set_epoch(1)  # a run resumed at epoch 1 sees epoch 1's order
    np.testing.assert_array_equal(next(iter(resumed))[1], orders[0][1])

    mc.manual_seed(3)  # without a seed: minicnn's generator
    first = next(iter(DataLoader(labelled(20), batch_size=20, shuffle=True)))[1]
    mc.manual_seed(3)
    again = next(iter(DataLoader(labelled(20), batch_size=20, shuffle=True)))[1]
    np.testing.assert_array_equal(first, again)


def test_batch_size_one_and_full_batch():
    dataset = labelled(5)
    assert [len(labels) for _, labels in DataLoader(dataset, 1)] == [1] * 5
    assert [len(labels) for _, labels in DataLoader(dataset, len(dataset))] == [5]


def test_any_indexable_dataset_and_single_field_samples():
    class Squares(Dataset):
        def __getitem__(self, index):
            return np.array([index * index], dtype=np.float64)

        def __len__(self):
            return 4

    (batch,) = next(iter(DataLoader(Squares(), batch_size=4)))
    np.testing.assert_array_equal(batch, [[0], [1], [4], [9]])
    plain = [(np.float32(i), i) for i in range(3)]  # a list of pairs
    features, labels = next(iter(DataLoader(plain, batch_size=3)))
    assert features.dtype == np.float32 and labels.tolist() == [0, 1, 2]


def test_digits_batches_match_its_samples():
    digits = Digits(train=False)
    images, labels = next(iter(DataLoader(digits, batch_size=8, shuffle=True, seed=1)))
    assert images.shape == (8, 1, 28, 28) and images.dtype == np.float32
    order = np.random.default_rng((1, 0)).permutation(len(digits))[:8]
    for image, label, index in zip(images, labels, order, strict=True):
        np.testing.assert_array_equal(image, digits[index][0])
        assert label == digits[index][1]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"batch_size": 0}, ValueError, r"batch_size must be positive, got 0"),
        ({"batch_size": 2.0}, TypeError, r"batch_size must be an int, got 2.0"),
        ({"device": "gpu"}, ValueError, r"unknown device 'gpu'; expected one of \('cpu', 'cuda'\)"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        DataLoader(labelled(3), **kwargs)
    with pytest.raises(TypeError, match=r"dataset must have __len__ and __getitem__, got int"):
        DataLoader(3)


def test_device_cpu_hands_over_numpy_batches():
    x, y = labelled(5).arrays
    for got, want in zip(DataLoader(TensorDataset(x, y), 2, device="cpu"),
                         DataLoader(TensorDataset(x, y), 2), strict=True):
        assert all(isinstance(field, np.ndarray) for field in got)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)


def test_tensor_dataset_batch_takes_any_numpy_index():
    x, y = labelled(5).arrays
    dataset = TensorDataset(x, y)
    empty_x, empty_y = dataset.batch([])
    assert empty_x.shape == (0, 3) and empty_y.shape == (0,)
    first_x, _ = dataset.batch(slice(0, 3))
    np.testing.assert_array_equal(first_x, x[:3])
