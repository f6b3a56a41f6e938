"""minicnn's one seeded random generator (weight init, Dropout masks, shuffling).

Like PyTorch's default CPU generator, it starts from a fixed seed, so a fresh process is
reproducible; ``manual_seed`` reseeds it.
"""

from __future__ import annotations

import numpy as np

DEFAULT_SEED = 67280421310721  # torch.initial_seed() of a fresh PyTorch process

_generator = np.random.Generator(np.random.PCG64(DEFAULT_SEED))
_seed = DEFAULT_SEED


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed minicnn's generator and return it."""
    global _seed
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed: expected an int seed, got {type(seed).__name__}")
    _seed = int(seed)
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
