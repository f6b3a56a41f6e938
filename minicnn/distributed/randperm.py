"""torch.randperm on the CPU, drawn the same way with NumPy, so that DistributedSampler gives
PyTorch's exact indices without PyTorch.

``torch.Generator().manual_seed(seed)`` seeds a 32-bit Mersenne Twister (MT19937) with the low
32 bits of the seed, and ``torch.randperm(n, generator=g)`` (for n below 2**32 / 20) shuffles
0..n-1 by Fisher-Yates from the front: for i = 0 .. n - 2, swap item i with item
i + (next 32-bit draw) % (n - i).
"""

from __future__ import annotations

import numpy as np

_MT_SIZE = 624  # words of MT19937's state


def mt19937(seed: int) -> np.random.MT19937:
    """NumPy's MT19937 in the state ``init_genrand(seed & 0xffffffff)`` gives, the reference
    seeding that PyTorch's CPU generator uses (NumPy's own ``MT19937(seed)`` seeds differently)."""
    key = np.empty(_MT_SIZE, dtype=np.uint32)
    word = int(seed) & 0xFFFFFFFF
    key[0] = word
    for index in range(1, _MT_SIZE):
        word = (1812433253 * (word ^ (word >> 30)) + index) & 0xFFFFFFFF
        key[index] = word
    generator = np.random.MT19937()
    generator.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": _MT_SIZE}}
    return generator


def randperm(n: int, seed: int) -> np.ndarray:
    """A permutation of 0..n-1 (int64), equal to ``torch.randperm(n, generator=g)`` after
    ``g.manual_seed(seed)``."""
    if n >= 2**32 // 20:
        raise ValueError(f"randperm: n must be below {2**32 // 20}, got {n}")
    draws = mt19937(seed).random_raw(max(n - 1, 0))
    offsets = (draws % np.arange(n, 1, -1, dtype=np.uint64)).tolist()  # offsets[i] < n - i
    order = list(range(n))
    for i, offset in enumerate(offsets):
        j = i + offset
        order[i], order[j] = order[j], order[i]
    return np.array(order, dtype=np.int64)
