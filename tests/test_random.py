"""minicnn.random: the seeded generator behind init, Dropout and shuffling; torch's seed rules."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import minicnn as mc
from minicnn import nn
from minicnn import random as mc_random


@pytest.fixture
def torch_rng():
    """Leave torch's global generator as the test found it."""
    state = torch.get_rng_state()
    yield
    torch.set_rng_state(state)


def draws():
    """One draw through every user of the generator: init and a Dropout mask."""
    layer = nn.Linear(4, 3)
    mask = nn.Dropout(0.5)(np.ones(64, np.float32)) != 0
    return np.concatenate([layer.weight.data.ravel(), layer.bias.data.ravel(), mask])


def test_manual_seed_reproduces_every_draw():
    mc.manual_seed(11)
    first, second = draws(), draws()
    assert not np.array_equal(first, second)  # the generator moves on
    mc.manual_seed(11)
    np.testing.assert_array_equal(draws(), first)
    np.testing.assert_array_equal(draws(), second)
    mc.manual_seed(12)
    assert not np.array_equal(draws(), first)


def test_manual_seed_returns_the_shared_generator():
    generator = mc.manual_seed(3)
    assert isinstance(generator, np.random.Generator) and generator is mc_random.generator()
    value = generator.random()
    mc.manual_seed(3)
    assert mc_random.generator().random() == value


@pytest.mark.parametrize("seed", [0, 5, 2**32, 2**63, 2**64 - 1, -1, -(2**63), np.int64(-7),
                                  np.uint64(9)], ids=str)
def test_initial_seed_follows_torch(seed, torch_rng):
    torch.manual_seed(seed)
    mc.manual_seed(seed)
    assert mc.initial_seed() == torch.initial_seed()
    assert isinstance(mc.initial_seed(), int)


def test_negative_seeds_are_their_unsigned_twins_as_in_torch():
    mc.manual_seed(-1)
    first = draws()
    mc.manual_seed(2**64 - 1)
    np.testing.assert_array_equal(draws(), first)


@pytest.mark.parametrize("seed", [2**64, -(2**63) - 1])
def test_out_of_range_seeds_are_refused_as_in_torch(seed, torch_rng):
    with pytest.raises(ValueError, match=rf"manual_seed: seed must be in .*, got {seed}"):
        mc.manual_seed(seed)
    with pytest.raises((ValueError, RuntimeError)):
        torch.manual_seed(seed)


@pytest.mark.parametrize("seed", [1.5, "3", None, True, np.float64(2.0)], ids=repr)
def test_non_integer_seeds_are_refused(seed):
    with pytest.raises(TypeError, match=r"manual_seed: expected an int seed, got "):
        mc.manual_seed(seed)


def test_get_state_and_set_state_replay_draws():
    mc.manual_seed(0)
    draws()
    state = mc_random.get_state()
    after = draws()
    mc_random.set_state(state)
    np.testing.assert_array_equal(draws(), after)
    mc_random.set_state(state)
    copy = mc_random.get_state()
    copy["state"] = {"state": 0, "inc": 1}  # a returned state is a copy: changing it does nothing
    np.testing.assert_array_equal(draws(), after)


def test_a_fresh_process_starts_from_a_fixed_seed():
    """Two fresh processes draw the same weights, the ones manual_seed(initial_seed()) gives.
    (Not compared with torch: the torch 2.13 build here seeds a fresh process at random.)"""
    code = (
        "import json, minicnn as mc\n"
        "w = mc.nn.Linear(3, 2).weight.data\n"
        "print(json.dumps([mc.initial_seed(), w.tolist()]))\n"
    )
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, timeout=120) for _ in range(2)]
    (seed, weights), again = (json.loads(run.stdout) for run in runs)
    assert again == [seed, weights]
    mc.manual_seed(seed)
    np.testing.assert_array_equal(nn.Linear(3, 2).weight.data, np.array(weights, np.float32))
