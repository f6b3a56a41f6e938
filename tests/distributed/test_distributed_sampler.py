"""DistributedSampler gives torch.utils.data.DistributedSampler's exact indices (and randperm
torch.randperm's), and the DataLoader reads a rank's share with it; no MPI needed."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.utils.data

from minicnn.data import DataLoader, TensorDataset
from minicnn.distributed import DistributedSampler
from minicnn.distributed.randperm import randperm


@pytest.mark.parametrize("n", [0, 1, 2, 3, 10, 97, 1000, 60000])
def test_randperm_is_torchs(n):
    for seed in (0, 1, 12345, 2**32 + 7, 2**63 + 5):
        generator = torch.Generator()
        generator.manual_seed(seed)
        expected = torch.randperm(n, generator=generator).numpy()
        np.testing.assert_array_equal(randperm(n, seed), expected, err_msg=f"seed {seed}")


@pytest.mark.parametrize(
    ("size", "replicas"), list(itertools.product([0, 1, 5, 10, 11, 64], [1, 2, 3, 4]))
)
def test_indices_are_torchs(size, replicas):
    dataset = list(range(size))
    for shuffle, drop_last, seed, epoch in itertools.product(
        (True, False), (True, False), (0, 7), (0, 3)
    ):
        for rank in range(replicas):
            ours = DistributedSampler(dataset, replicas, rank, shuffle, seed, drop_last)
            theirs = torch.utils.data.DistributedSampler(
                dataset, replicas, rank, shuffle=shuffle, seed=seed, drop_last=drop_last
            )
            ours.set_epoch(epoch)
            theirs.set_epoch(epoch)
            assert list(ours) == list(theirs) and len(ours) == len(theirs), (
                shuffle, drop_last, seed, epoch, rank,
            )


@pytest.mark.parametrize("drop_last", [False, True])
def test_shares_are_disjoint_equal_and_cover_the_dataset(drop_last):
    size, replicas = 23, 4
    for epoch in range(3):
        shares = []
        for rank in range(replicas):
            sampler = DistributedSampler(range(size), replicas, rank, seed=3, drop_last=drop_last)
            sampler.set_epoch(epoch)
            shares.append(list(sampler))
        assert {len(share) for share in shares} == {6 if not drop_last else 5}
        everything = sum(shares, [])
        if drop_last:  # 20 distinct samples, 3 left out this epoch
            assert len(set(everything)) == 20
        else:  # all 23, and the first 1 of the permutation padded
            assert set(everything) == set(range(size)) and len(everything) == 24
        if epoch == 0:
            first = shares
    assert first != shares  # a new order each epoch


def test_arguments_are_checked():
    with pytest.raises(ValueError, match=r"invalid rank 2, rank should be in the interval \[0, 1"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas must be a positive int"):
        DistributedSampler(range(4), num_replicas=0, rank=0)
    with pytest.raises(TypeError, match="must have __len__"):
        DistributedSampler(iter(range(4)), num_replicas=1, rank=0)


def labelled(size: int) -> TensorDataset:
    return TensorDataset(np.arange(size * 2, dtype=np.float32).reshape(size, 2), np.arange(size))


def test_a_loader_with_a_sampler_reads_its_share_and_follows_the_epoch():
    dataset = labelled(10)
    sampler = DistributedSampler(dataset, num_replicas=3, rank=1, seed=2)
    loader = DataLoader(dataset, batch_size=2, sampler=sampler)
    assert len(loader) == 2  # 4 samples: ceil(10 / 3)
    for epoch in range(2):
        expected = DistributedSampler(dataset, num_replicas=3, rank=1, seed=2)
        expected.set_epoch(epoch)
        labels = np.concatenate([y for _, y in loader])
        assert labels.tolist() == list(expected)
    resumed = DataLoader(dataset, batch_size=2, sampler=sampler)
    resumed.set_epoch(1)
    assert np.concatenate([y for _, y in resumed]).tolist() == labels.tolist()
    features, labels = next(iter(DataLoader(dataset, batch_size=4, sampler=sampler,
                                            drop_last=True)))
    np.testing.assert_array_equal(features[:, 0], labels * 2)  # fields stay paired


def test_a_sharded_loader_in_a_world_of_one_reads_everything_in_torchs_order():
    dataset = labelled(10)
    loader = DataLoader(dataset, batch_size=4, shuffle=True, seed=9, shard=True)
    assert len(loader) == 3
    generator = torch.Generator()
    generator.manual_seed(9)
    expected = torch.randperm(10, generator=generator).tolist()
    assert np.concatenate([y for _, y in loader]).tolist() == expected
    unshuffled = DataLoader(dataset, batch_size=4, shard=True)  # seed None counts as 0
    assert np.concatenate([y for _, y in unshuffled]).tolist() == list(range(10))


def test_sampler_excludes_shuffle_and_shard():
    dataset = labelled(4)
    sampler = DistributedSampler(dataset, num_replicas=1, rank=0)
    for options in ({"shuffle": True}, {"shard": True}):
        with pytest.raises(ValueError, match="sampler is mutually exclusive"):
            DataLoader(dataset, sampler=sampler, **options)
    with pytest.raises(TypeError, match="sampler must be an iterable of indices with __len__"):
        DataLoader(dataset, sampler=3)
