"""minicnn's one seeded random generator (weight init, Dropout masks, shuffling).

It starts from a fixed seed, so a fresh process is reproducible; ``manual_seed`` reseeds it
with PyTorch's rules for seeds. (PyTorch's CPU generator used to start from the same fixed
seed; the torch 2.13 build this was tested with seeds a fresh process at random instead.)
"""

from __future__ import annotations

import numpy as np

DEFAULT_SEED = 67280421310721  # c10::default_rng_seed_val, PyTorch's historical default

_generator = np.random.Generator(np.random.PCG64(DEFAULT_SEED))
_seed = DEFAULT_SEED


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed minicnn's generator and return it. As in PyTorch, a seed is an int in
    [-2**63, 2**64) and a negative one counts as seed + 2**64 (``initial_seed`` shows that)."""
    global _seed
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, (bool, np.bool_)):
        raise TypeError(f"manual_seed: expected an int seed, got {type(seed).__name__}")
    if not -(2**63) <= int(seed) < 2**64:
        raise ValueError(f"manual_seed: seed must be in [-2**63, 2**64), got {seed}")
    _seed = int(seed) % 2**64
    _generator.bit_generator.state = np.random.PCG64(_seed).state
    return _generator


def initial_seed() -> int:
    """The seed the generator was last seeded with."""
    return _seed


def generator() -> np.random.Generator:
    """The generator every random draw in minicnn goes through."""
    return _generator


def get_state() -> dict:
    """A copy of the generator's state, for ``set_state``."""
    return dict(_generator.bit_generator.state)


def set_state(state: dict) -> None:
    """Restore a state taken with ``get_state``."""
    _generator.bit_generator.state = state
